//! One e2e run and what drives it: setup → assess → teardown ([`run`]), where it runs ([`target`]), the scenario
//! runner's environment over the live cluster ([`live`]), and the report rewritten after every assertion
//! ([`journal`]).

pub mod journal;
pub mod live;
pub mod run;
pub mod target;
