//! Tests of the scenario generators against the tracer. One test binary, one module per area.
// Tests print their random seed so a failure can be rerun.
#![allow(clippy::print_stdout)]

mod crosschain;
