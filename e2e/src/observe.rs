//! What a run waits for and observes on the cluster: the live waits ([`waits`]), the Headlamp pod's outcome predicted
//! and observed ([`outcome`]), and the trace of what was seen, replayable offline ([`trace`]).

pub mod outcome;
pub mod trace;
pub mod waits;
