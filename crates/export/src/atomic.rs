//! The one atomic writer for user-visible files: every export format, the case file of
//! `chaintrace trace --out` and the files `chaintrace demo` makes.
//!
//! A file is written to a temporary name in the destination's directory, flushed and synced,
//! then renamed into place (the rename is atomic on one filesystem), so a crash never leaves a
//! half-written file under its final name. With [`Replace::No`] the final step refuses to
//! replace an existing file, atomically (`persist_noclobber`), so two writers racing for one
//! name cannot overwrite each other either. A set of files (the Neo4j CSV export) goes into a
//! new directory that appears whole, by one rename, or not at all.
//!
//! Errors state facts ("… already exists"); which flag overrides them is the caller's to say.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

/// Whether an existing file at the destination may be replaced.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Replace {
    /// Refuse with [`WriteError::Exists`].
    No,
    /// Replace it atomically.
    Yes,
}

/// Why a file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The destination exists and [`Replace::No`] was asked.
    #[error("{} already exists", .0.display())]
    Exists(PathBuf),
    /// A multi-file output's destination is a file, not a directory.
    #[error("{} exists and is not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// The filesystem refused.
    #[error("cannot write {}", path.display())]
    Io {
        /// The file or directory being written.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl WriteError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        WriteError::Io { path: path.to_path_buf(), source }
    }
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn temp_in(dir: &Path, final_path: &Path) -> Result<tempfile::NamedTempFile, WriteError> {
    let stem = final_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    tempfile::Builder::new()
        .prefix(&format!(".{stem}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| WriteError::io(final_path, e))
}

/// Write `bytes` to `path` via a temporary file in the same directory, an fsync and a rename.
pub fn write_file(path: &Path, bytes: &[u8], replace: Replace) -> Result<(), WriteError> {
    write_file_with(path, replace, |w| w.write_all(bytes))
}

/// Like [`write_file`], with the content written by `write` into a buffered writer on the
/// temporary file: a large file (a case file of tens of MB) need not be held in memory whole
/// first. An error from `write` leaves no file behind.
pub fn write_file_with(
    path: &Path,
    replace: Replace,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), WriteError> {
    let force = replace == Replace::Yes;
    if !force && fs::symlink_metadata(path).is_ok() {
        return Err(WriteError::Exists(path.to_path_buf()));
    }
    if path.is_dir() {
        return Err(WriteError::io(path, std::io::Error::new(std::io::ErrorKind::IsADirectory, "is a directory")));
    }
    let dir = parent_of(path);
    let mut tmp = temp_in(dir, path)?;
    {
        let mut out = std::io::BufWriter::with_capacity(1 << 16, tmp.as_file_mut());
        write(&mut out).and_then(|()| out.flush()).map_err(|e| WriteError::io(path, e))?;
    }
    tmp.as_file().sync_all().map_err(|e| WriteError::io(path, e))?;
    let persisted = if force { tmp.persist(path) } else { tmp.persist_noclobber(path) };
    match persisted {
        Ok(_) => Ok(()),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Err(WriteError::Exists(path.to_path_buf())),
        // The temporary file is removed when `e.file` drops.
        Err(e) => Err(WriteError::io(path, e.error)),
    }
}

/// Write several files (name, bytes) into directory `dir`; returns their paths.
///
/// When `dir` does not exist, the files are written into a temporary directory beside it
/// that is renamed to `dir` at the end: the directory appears whole or not at all. When it
/// exists, each file is written atomically inside it; with [`Replace::No`] nothing is written if
/// any of the files already exists.
pub fn write_dir(dir: &Path, files: &[(&str, Vec<u8>)], replace: Replace) -> Result<Vec<PathBuf>, WriteError> {
    let force = replace == Replace::Yes;
    let finals: Vec<PathBuf> = files.iter().map(|(name, _)| dir.join(name)).collect();
    match fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => Err(WriteError::NotADirectory(dir.to_path_buf())),
        Ok(_) => {
            if !force {
                if let Some(existing) = finals.iter().find(|p| fs::symlink_metadata(p).is_ok()) {
                    return Err(WriteError::Exists(existing.clone()));
                }
            }
            for ((_, bytes), path) in files.iter().zip(&finals) {
                write_file(path, bytes, replace)?;
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
                .map_err(|e| WriteError::io(dir, e))?;
            for (name, bytes) in files {
                let path = tmp.path().join(name);
                let mut f = fs::File::create(&path).map_err(|e| WriteError::io(&path, e))?;
                f.write_all(bytes).map_err(|e| WriteError::io(&path, e))?;
                f.sync_all().map_err(|e| WriteError::io(&path, e))?;
            }
            let tmp_path = tmp.keep();
            if let Err(e) = fs::rename(&tmp_path, dir) {
                let _ = fs::remove_dir_all(&tmp_path);
                return Err(if fs::symlink_metadata(dir).is_ok() {
                    WriteError::Exists(dir.to_path_buf())
                } else {
                    WriteError::io(dir, e)
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
        write_file(&p, b"one", Replace::No).unwrap();
        let err = write_file(&p, b"two", Replace::No).unwrap_err();
        assert!(matches!(err, WriteError::Exists(_)), "{err}");
        assert!(!err.to_string().contains("--"), "the library names no CLI flag: {err}");
        assert_eq!(fs::read(&p).unwrap(), b"one");
        write_file(&p, b"two", Replace::Yes).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary files left behind");
    }

    #[test]
    fn directory_appears_whole() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("csv");
        let files = [("a.csv", b"a".to_vec()), ("b.csv", b"b".to_vec())];
        write_dir(&out, &files, Replace::No).unwrap();
        assert_eq!(fs::read(out.join("b.csv")).unwrap(), b"b");
        assert!(matches!(write_dir(&out, &files, Replace::No), Err(WriteError::Exists(_))));
        write_dir(&out, &files, Replace::Yes).unwrap();
        let not_dir = dir.path().join("file");
        fs::write(&not_dir, b"x").unwrap();
        assert!(matches!(write_dir(&not_dir, &files, Replace::Yes), Err(WriteError::NotADirectory(_))));
        let entries: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(entries.len(), 2, "no temporary directories left behind");
    }

    #[test]
    fn a_streamed_write_replaces_whole_or_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("case.json");
        write_file(&p, b"old", Replace::Yes).unwrap();
        // larger than the writer's buffer, in many small writes
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        write_file_with(&p, Replace::Yes, |w| big.chunks(7).try_for_each(|c| w.write_all(c))).unwrap();
        assert_eq!(fs::read(&p).unwrap(), big);
        // a writer that fails half-way: the previous file stays, no temporary file is left
        let e = write_file_with(&p, Replace::Yes, |w| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("serialiser failed"))
        });
        assert!(matches!(e, Err(WriteError::Io { .. })), "{e:?}");
        assert_eq!(fs::read(&p).unwrap(), big);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
    }

    #[test]
    fn a_failed_write_leaves_nothing_under_the_final_name() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("missing").join("out.json");
        assert!(matches!(write_file(&p, b"x", Replace::Yes), Err(WriteError::Io { .. })));
        assert!(!p.exists());
        let sub = dir.path().join("sub");
        fs::create_dir(&sub).unwrap();
        assert!(
            matches!(write_file(&sub, b"x", Replace::Yes), Err(WriteError::Io { .. })),
            "a directory is not replaced"
        );
        assert!(sub.is_dir());
    }
}
