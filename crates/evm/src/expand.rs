//! On-demand expansion (see below).
