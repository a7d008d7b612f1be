//! Common-input-ownership clustering (filled in below).
