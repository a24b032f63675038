//! Reading files from trees the user does not control (a GitOps checkout from a pull request, a snapshot from CI):
//! regular files only (a FIFO or a device is never opened for reading: it could block or never end), at most
//! [`MAX_FILE_BYTES`] each, and logs from their end.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// The largest single file read (manifests, snapshot objects): 128 MiB. A 50 MB manifest is fine; a 1 GB one is an
/// error naming the file and this limit. Parsed, a file costs up to ~6 times its size at once (the text, the YAML
/// scalar, the JSON value and their copies: a 200 MiB single scalar peaked at 1.19 GB), so this keeps the worst
/// single file under lint's 1 GiB bound (issue 23; `cargo xtask bench-hostile`, case `huge-scalar`).
pub const MAX_FILE_BYTES: u64 = 128 * 1024 * 1024;

fn open_regular(path: &Path) -> std::io::Result<(std::fs::File, u64)> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a FIFO, socket or device is never read)",
        ));
    }
    let mut o = std::fs::OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    {
        // a FIFO swapped in after the check must not block the open
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags(libc::O_NONBLOCK);
    }
    let f = o.open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a FIFO, socket or device is never read)",
        ));
    }
    Ok((f, meta.len()))
}

fn too_large(size: u64) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!(
            "{} MiB, over the {} MiB limit for one file (a manifest this big is not one people review)",
            size / (1024 * 1024),
            MAX_FILE_BYTES / (1024 * 1024)
        ),
    )
}

/// The whole of a regular file of at most [`MAX_FILE_BYTES`].
pub fn read_bytes(path: &Path) -> std::io::Result<Vec<u8>> {
    let (f, size) = open_regular(path)?;
    if size > MAX_FILE_BYTES {
        return Err(too_large(size));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// The whole text of a regular file of at most [`MAX_FILE_BYTES`].
pub fn read_text(path: &Path) -> std::io::Result<String> {
    String::from_utf8(read_bytes(path)?)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// The last `max_bytes` of a regular file (a log), from the start of a line; lossy UTF-8.
pub fn read_tail(path: &Path, max_bytes: u64) -> std::io::Result<String> {
    let (mut f, size) = open_regular(path)?;
    let start = size.saturating_sub(max_bytes);
    f.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    f.take(max_bytes).read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if start > 0
        && let Some(i) = text.find('\n')
    {
        return Ok(text[i + 1..].to_string());
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_only_and_capped() {
        let d = tempfile::tempdir().unwrap();
        let small = d.path().join("a.yaml");
        std::fs::write(&small, "a: 1\n").unwrap();
        assert_eq!(read_text(&small).unwrap(), "a: 1\n");
        // sparse: no disk used
        let big = d.path().join("big.yaml");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(MAX_FILE_BYTES + 1)
            .unwrap();
        let e = read_text(&big).unwrap_err().to_string();
        assert!(e.contains("over the 128 MiB limit"), "{e}");
        assert!(read_text(d.path()).is_err());
        #[cfg(unix)]
        {
            let fifo = d.path().join("fifo.yaml");
            let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
            // SAFETY: mkfifo with a valid NUL-terminated path.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
            let e = read_text(&fifo).unwrap_err().to_string();
            assert!(e.contains("not a regular file"), "{e}");
            let e = read_text(Path::new("/dev/zero")).unwrap_err().to_string();
            assert!(e.contains("not a regular file"), "{e}");
        }
    }

    #[test]
    fn tail_starts_at_a_line() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.log");
        std::fs::write(&p, "first line\nsecond line\nthird\n").unwrap();
        assert_eq!(read_tail(&p, 12).unwrap(), "third\n");
        assert_eq!(
            read_tail(&p, 1000).unwrap(),
            "first line\nsecond line\nthird\n"
        );
    }
}
