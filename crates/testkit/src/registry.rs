//! An OCI registry of our own: Debian's `docker-registry` (the CNCF
//! distribution registry), on a free loopback port with scratch storage,
//! stopped when dropped.

use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, Result};

use crate::paths::{free_port, TempDir};
use crate::process::{wait_until, Output, Service};

/// A running registry.
#[derive(Debug)]
pub struct Registry {
    service: Service,
    pub port: u16,
    _dir: TempDir,
}

impl Registry {
    /// Starts one and waits until `GET /v2/` answers 200.
    pub fn start() -> Result<Self> {
        let dir = TempDir::new("registry");
        let port = free_port();
        let storage = dir.path().join("storage");
        crate::paths::create_dir(&storage)?;
        let config = dir.path().join("registry.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n\
                 http:\n  addr: 127.0.0.1:{port}\n",
                storage.display()
            ),
        )?;
        let mut command = Command::new("docker-registry");
        command.arg("serve").arg(&config);
        let mut service = Service::start(
            "docker-registry",
            &mut command,
            Output::File(dir.path().join("registry.log")),
        )
        .context("is docker-registry installed? `cargo xtask setup` installs it")?;
        let url = format!("http://127.0.0.1:{port}/v2/");
        wait_until(
            "docker-registry",
            Duration::from_secs(30),
            &mut [&mut service],
            || reqwest::blocking::get(&url).is_ok_and(|r| r.status().is_success()),
        )?;
        Ok(Self {
            service,
            port,
            _dir: dir,
        })
    }

    /// `127.0.0.1:<port>`, as image references name it.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Fails if it has exited.
    pub fn check_running(&mut self) -> Result<()> {
        self.service.check_running()
    }
}
