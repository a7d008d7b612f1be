//! Any bytes, read as a case file, must give a case or an error, never a panic; a case that
//! reads back must write the canonical text, which reads back to the same case.
#![no_main]

use chaintrace_model::CaseFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(case) = CaseFile::from_json_bytes(data) {
        let text = case.to_json();
        let back = CaseFile::from_json_str(&text).expect("the canonical text reads back");
        assert_eq!(back, case);
        assert_eq!(back.to_json(), text);
    }
});
