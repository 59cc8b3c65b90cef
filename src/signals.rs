//! The shutdown signals handed to long-running commands: SIGTERM (systemd,
//! docker stop) and SIGINT (Ctrl-C).

use tracing::{info, warn};

/// Signal listeners installed at once: a signal that arrives before anyone waits
/// is kept, not lost (tokio swallows a signal it handles when nobody listens).
pub struct Signals {
    #[cfg(unix)]
    streams: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    pub fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            match (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) {
                (Ok(term), Ok(int)) => Self {
                    streams: Some((term, int)),
                },
                _ => {
                    warn!("could not install signal handlers; only Ctrl-C will stop fiscal");
                    Self { streams: None }
                }
            }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// Resolves on the next SIGTERM or SIGINT.
    pub async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some((term, int)) = &mut self.streams {
            tokio::select! {
                _ = term.recv() => info!("SIGTERM received"),
                _ = int.recv() => info!("SIGINT received"),
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
        info!("Ctrl-C received");
    }
}

/// Resolves on the first SIGTERM or SIGINT after the call.
pub async fn shutdown() {
    Signals::install().recv().await
}
