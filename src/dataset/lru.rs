//! A small LRU of decoded shards by instance, kept by the dataset's engine so a loader that walks
//! an instance's pairs decodes its shard once.

use crate::image::SrPair;
use std::collections::HashMap;
use std::sync::Arc;

/// Decoded shards by instance; eviction scans, fine for tens of entries.
pub(crate) struct Lru {
    cap: usize,
    tick: u64,
    map: HashMap<usize, (Arc<Vec<SrPair>>, u64)>,
}

impl Lru {
    /// An LRU of at most `cap` shards (0: keeps nothing).
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            cap,
            tick: 0,
            map: HashMap::new(),
        }
    }

    pub(crate) fn get(&mut self, j: usize) -> Option<Arc<Vec<SrPair>>> {
        self.tick += 1;
        let t = self.tick;
        self.map.get_mut(&j).map(|e| {
            e.1 = t;
            e.0.clone()
        })
    }

    pub(crate) fn put(&mut self, j: usize, v: Arc<Vec<SrPair>>) {
        if self.cap == 0 {
            return;
        }
        self.tick += 1;
        if !self.map.contains_key(&j)
            && self.map.len() >= self.cap
            && let Some(old) = self.map.iter().min_by_key(|(_, e)| e.1).map(|(k, _)| *k)
        {
            self.map.remove(&old);
        }
        self.map.insert(j, (v, self.tick));
    }
}
