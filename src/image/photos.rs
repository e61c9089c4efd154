//! Four small real photographs compiled into the crate (public domain or CC0; licence notes in
//! `assets/photos/`), the default input of `idc condense` when no HR folder is given, so a first
//! run condenses real content instead of generated patterns.

use crate::error::{IdcError, Result};
use std::path::{Path, PathBuf};

/// `(file name, PNG bytes)` of the built-in photographs.
pub const PHOTOS: [(&str, &[u8]); 4] = [
    (
        "astronaut.png",
        include_bytes!("../../assets/photos/astronaut.png"),
    ),
    (
        "chelsea.png",
        include_bytes!("../../assets/photos/chelsea.png"),
    ),
    (
        "coffee.png",
        include_bytes!("../../assets/photos/coffee.png"),
    ),
    (
        "rocket.png",
        include_bytes!("../../assets/photos/rocket.png"),
    ),
];

/// Writes the photographs into `dir` (created if missing) and returns their paths. A file that
/// already holds the same bytes is left alone (its mtime, and so the source catalogue's cached
/// hash, stay valid); anything else at a photo's path is replaced atomically.
pub fn write_photos(dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| IdcError::io(dir, e))?;
    let mut out = Vec::with_capacity(PHOTOS.len());
    for (name, bytes) in PHOTOS {
        let path = dir.join(name);
        let same =
            crate::fsutil::read_bounded(&path, bytes.len() as u64 + 1).is_ok_and(|b| b == bytes);
        if !same {
            crate::fsutil::write_atomic(&path, bytes)?;
        }
        out.push(path);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photos_decode_and_are_written_once() {
        let dir = tempfile::tempdir().unwrap();
        let files = write_photos(dir.path()).unwrap();
        assert_eq!(files.len(), PHOTOS.len());
        for f in &files {
            let img = crate::image::io::decode_image(f).unwrap();
            assert_eq!(img.channels, 3);
            assert!(img.width.min(img.height) >= 150, "{}", f.display());
        }
        let mtime = std::fs::metadata(&files[0]).unwrap().modified().unwrap();
        write_photos(dir.path()).unwrap();
        assert_eq!(
            std::fs::metadata(&files[0]).unwrap().modified().unwrap(),
            mtime
        );
    }
}
