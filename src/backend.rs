//! Choosing where requests go: OpenRouter (a key is set) or the built-in simulator
//! (demo mode), and building the client for it.
//!
//! Must not import `tui`, `ratatui` or `crossterm`.

use crate::catalog::{Catalog, CatalogError, PriceCache};
use crate::config::{ApiKey, Config};
use crate::provider::{OpenRouterClient, ProviderError};
use crate::simulator::{Behaviour, Simulator};

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error("cannot start the built-in simulator: {0}")]
    Simulator(std::io::Error),
}

/// A ready client, and the simulator behind it in demo mode (kept alive with it).
pub struct Backend {
    pub client: OpenRouterClient,
    pub catalog: Catalog,
    pub demo: bool,
    _simulator: Option<Simulator>,
}

impl Backend {
    /// Demo mode when asked for or when no key is configured.
    pub async fn connect(config: &Config, force_demo: bool) -> Result<Self, BackendError> {
        let cache = PriceCache::load(&config.paths.models_cache_file())?;
        let catalog = Catalog::load(&config.model_patches, cache.as_ref())?;
        if force_demo || config.api_key.is_none() {
            let sim = Simulator::start(catalog.clone(), Behaviour::demo())
                .await
                .map_err(BackendError::Simulator)?;
            sim.keep_no_requests();
            let client =
                OpenRouterClient::new(&sim.url(), Some(ApiKey::new("demo")), config.timeouts)?;
            return Ok(Self {
                client,
                catalog,
                demo: true,
                _simulator: Some(sim),
            });
        }
        let client =
            OpenRouterClient::new(&config.base_url, config.api_key.clone(), config.timeouts)?;
        Ok(Self {
            client,
            catalog,
            demo: false,
            _simulator: None,
        })
    }

    /// The client for one model: its own endpoint and key variable if it has one.
    pub fn client_for(
        &self,
        model_id: &str,
        config: &Config,
    ) -> Result<OpenRouterClient, BackendError> {
        match self.catalog.get(model_id).and_then(|m| m.base_url.as_ref()) {
            Some(url) if !self.demo => {
                let key = self
                    .catalog
                    .get(model_id)
                    .and_then(|m| m.api_key_env.as_ref())
                    .and_then(|var| std::env::var(var).ok())
                    .map(ApiKey::new);
                Ok(OpenRouterClient::new(url, key, config.timeouts)?)
            }
            _ => Ok(self.client.clone()),
        }
    }
}
