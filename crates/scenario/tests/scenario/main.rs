//! Tests of the scenario generators against the tracer. One test binary, one module per area.

mod crosschain;
