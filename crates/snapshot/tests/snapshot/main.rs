//! The snapshot against the store it was built from.

#[cfg(target_os = "linux")]
mod cold;
#[cfg(target_os = "linux")]
mod pages;
#[cfg(target_os = "linux")]
mod recache;
mod same_answers;
