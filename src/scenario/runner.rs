//! The scenario runner (see below).
