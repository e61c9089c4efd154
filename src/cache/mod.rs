//! The shard cache: one directory of per-instance shard files, owned by [`ShardCache`](crate::ShardCache).
//!
//! Every reader and writer of a cache goes through [`ShardCache`](crate::ShardCache): `IdcDataset` and its
//! condense-ahead worker (via [`ShardCache::get_or_create_many`](crate::ShardCache::get_or_create_many)), `idc condense`, `idc inspect`
//! ([`ShardCache::inspect`](crate::ShardCache::inspect)) and the selection baselines ([`ShardCache::put`](crate::ShardCache::put),
//! [`ShardCache::remove`](crate::ShardCache::remove), [`ShardCache::update_manifest`](crate::ShardCache::update_manifest)). So file naming, the per-instance
//! locks, the double-checked create and the manifest protocol exist once.
//!
//! - `shard`: the file format (encode, decode, read, atomic write, header) and file naming.
//! - `lock`: per-instance `File::lock` files.
//! - `manifest`: `manifest.json` and its locked read-merge-write update.
//! - `regen`: [`ShardStore`] (full or LR-only shards) and the [`HrRegenerator`] that rebuilds
//!   an LR-only shard's HR targets with its teacher.
//! - `codec` (private): format 2's lossless pixel payload (LOCO-I prediction, then zstd).

// The sub-modules are private: `ShardCache` lives at the crate root, everything else here,
// once, as `burn_idc::cache::X`.
mod codec;
pub(crate) mod lock;
pub(crate) mod manifest;
pub(crate) mod regen;
pub(crate) mod shard;
pub(crate) mod store;

pub(crate) use store::ShardCache;

/// Stable fingerprints (the cache keys: SHA-256 of a value's canonical JSON) and the hex SHA-256
/// they are made of.
pub use crate::config::{fingerprint, hex_sha256};

pub use lock::InstanceLock;
pub use manifest::{
    EntryNotes, MANIFEST_NAME, MAX_MANIFEST_BYTES, Manifest, ManifestEntry, SourceBytes,
};
pub use regen::{HrRegenerator, ShardStore, TeacherHr, complete_shard};
pub use shard::{
    FORMAT_VERSION, KEY_VERSION, LOCK_EXT, LOCKS_DIR, MAGIC, MAX_FINGERPRINT_LEN, MAX_SHARD_BYTES,
    SHARD_EXT, Shard, ShardHeader, decode_shard, encode_shard, encode_shard_as, instance_key,
    list_shards, lock_path, parse_header, read_header, read_shard, shard_path, write_shard_atomic,
};
pub use store::{
    CacheReport, Fetched, GetOrCreate, InvalidShard, Wanted, inspect_cache, verify_cache,
};
