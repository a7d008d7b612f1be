//! Integration tests of the TRON adapter on the real recordings in `tests/data/tron` (one test
//! binary; one module per area).

mod decode_damaged;
