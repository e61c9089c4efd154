//! Helpers shared by the integration tests: where the real data is, and the `idc` binary.
//! (Owned by the foundation engineer; extend as needed.)
