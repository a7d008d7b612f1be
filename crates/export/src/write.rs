//! Writing outputs atomically: a temporary file in the destination's directory, flushed and
//! synced, then renamed into place (the rename is atomic on one filesystem). Without `force`
//! the final step refuses to replace an existing file, atomically (`persist_noclobber`), so
//! two exports racing for one name cannot overwrite each other either.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use crate::ExportError;

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn temp_in(dir: &Path, final_path: &Path) -> Result<tempfile::NamedTempFile, ExportError> {
    let stem = final_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    tempfile::Builder::new()
        .prefix(&format!(".{stem}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| ExportError::io(final_path, e))
}

/// Write `bytes` to `path` via a temporary file and a rename.
pub fn file(path: &Path, bytes: &[u8], force: bool) -> Result<(), ExportError> {
    if !force && fs::symlink_metadata(path).is_ok() {
        return Err(ExportError::Exists(path.to_path_buf()));
    }
    if path.is_dir() {
        return Err(ExportError::io(path, std::io::Error::new(std::io::ErrorKind::IsADirectory, "is a directory")));
    }
    let dir = parent_of(path);
    let mut tmp = temp_in(dir, path)?;
    tmp.write_all(bytes).map_err(|e| ExportError::io(path, e))?;
    tmp.as_file().sync_all().map_err(|e| ExportError::io(path, e))?;
    let persisted = if force { tmp.persist(path) } else { tmp.persist_noclobber(path) };
    match persisted {
        Ok(_) => Ok(()),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Err(ExportError::Exists(path.to_path_buf())),
        // The temporary file is removed when `e.file` drops.
        Err(e) => Err(ExportError::io(path, e.error)),
    }
}

/// Write several files into directory `dir`.
///
/// When `dir` does not exist, the files are written into a temporary directory beside it
/// that is renamed to `dir` at the end: the directory appears whole or not at all. When it
/// exists, each file is written atomically inside it; without `force` nothing is written if
/// any of the files already exists.
pub fn directory(dir: &Path, files: &[(&str, Vec<u8>)], force: bool) -> Result<Vec<PathBuf>, ExportError> {
    let finals: Vec<PathBuf> = files.iter().map(|(name, _)| dir.join(name)).collect();
    match fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => Err(ExportError::NotADirectory(dir.to_path_buf())),
        Ok(_) => {
            if !force {
                if let Some(existing) = finals.iter().find(|p| fs::symlink_metadata(p).is_ok()) {
                    return Err(ExportError::Exists(existing.clone()));
                }
            }
            for ((_, bytes), path) in files.iter().zip(&finals) {
                file(path, bytes, force)?;
            }
            Ok(finals)
        }
        Err(_) => {
            let parent = parent_of(dir);
            let stem = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let tmp = tempfile::Builder::new()
                .prefix(&format!(".{stem}."))
                .suffix(".tmp")
                .tempdir_in(parent)
                .map_err(|e| ExportError::io(dir, e))?;
            for (name, bytes) in files {
                let path = tmp.path().join(name);
                let mut f = fs::File::create(&path).map_err(|e| ExportError::io(&path, e))?;
                f.write_all(bytes).map_err(|e| ExportError::io(&path, e))?;
                f.sync_all().map_err(|e| ExportError::io(&path, e))?;
            }
            let tmp_path = tmp.keep();
            if let Err(e) = fs::rename(&tmp_path, dir) {
                let _ = fs::remove_dir_all(&tmp_path);
                return Err(if fs::symlink_metadata(dir).is_ok() {
                    ExportError::Exists(dir.to_path_buf())
                } else {
                    ExportError::io(dir, e)
                });
            }
            Ok(finals)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_to_overwrite_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.txt");
        file(&p, b"one", false).unwrap();
        assert!(matches!(file(&p, b"two", false), Err(ExportError::Exists(_))));
        assert_eq!(fs::read(&p).unwrap(), b"one");
        file(&p, b"two", true).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary files left behind");
    }

    #[test]
    fn directory_appears_whole() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("csv");
        let files = [("a.csv", b"a".to_vec()), ("b.csv", b"b".to_vec())];
        directory(&out, &files, false).unwrap();
        assert_eq!(fs::read(out.join("b.csv")).unwrap(), b"b");
        assert!(matches!(directory(&out, &files, false), Err(ExportError::Exists(_))));
        directory(&out, &files, true).unwrap();
        let not_dir = dir.path().join("file");
        fs::write(&not_dir, b"x").unwrap();
        assert!(matches!(directory(&not_dir, &files, true), Err(ExportError::NotADirectory(_))));
        let entries: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(entries.len(), 2, "no temporary directories left behind");
    }
}
