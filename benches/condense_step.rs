//! Bench under construction (prints a table when done).
fn main() {}
