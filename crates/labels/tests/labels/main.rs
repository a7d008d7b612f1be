//! Integration tests of the label parsers and importer on the real public fixtures in
//! `tests/data` (one test binary; one module per area).

mod fixtures;
mod freeze_replay;
