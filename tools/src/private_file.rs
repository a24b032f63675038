//! Files only their owner may read: kubeconfigs, logs and reports of a run (mode 0600).

use std::path::Path;

use headlamp_e2e_model::{Error, Result};

/// Create or replace `path` with mode 0600 (set before any byte is written), creating parent directories.
pub fn write_private_file(path: &Path, contents: &[u8]) -> Result<()> {
    let io_err = |source| Error::io(path, source);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io_err)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path).map_err(io_err)?;
        // An existing file keeps its mode on open: tighten it before writing.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io_err)?;
        write_all(file, contents).map_err(io_err)
    }
    #[cfg(not(unix))]
    {
        let file = options.open(path).map_err(io_err)?;
        write_all(file, contents).map_err(io_err)
    }
}

fn write_all(mut file: std::fs::File, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    file.write_all(contents)?;
    file.sync_all()
}
