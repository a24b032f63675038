//! Headlamp server flags per version.
