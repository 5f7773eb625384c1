//! A URL's body, read whole and bounded: an index, a listing, a wheel. Every download goes
//! through [`crate::http_client::downloads`]; a source that stops sending is given up after
//! the stall time ([`within`]).

use std::time::Duration;

use futures_util::StreamExt;

/// An index document larger than this is not PyPI's listing of uv (today ~5 MB).
pub const MAX_INDEX_BYTES: usize = 16 * 1024 * 1024;
/// An index or a listing that sends nothing for this long is given up.
pub const INDEX_STALL: Duration = Duration::from_secs(30);

/// Why a URL's body could not be had.
#[derive(Debug, thiserror::Error)]
pub enum GetError {
    /// Not reached, or refused (offline, a 404, a stall): said as people read it (see
    /// [`crate::http_client::download_failure`]); the whole chain is its source.
    #[error("{said}")]
    Unreachable {
        said: String,
        #[source]
        source: reqwest::Error,
    },
    /// It stopped sending (retried: a resume may get the rest).
    #[error(transparent)]
    Stalled(#[from] Stalled),
    /// It sends more than expected (not retried: it would again).
    #[error("too large: {url} {how}")]
    TooLarge { url: String, how: String },
    /// It sent something else than what was asked for.
    #[error("{url} is not {expected}: {source}")]
    Unexpected {
        url: String,
        expected: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

/// A source that sent nothing for a while.
#[derive(Debug, thiserror::Error)]
#[error("{url} sent nothing for {} s", after.as_secs())]
pub struct Stalled {
    pub url: String,
    pub after: Duration,
}

/// `step`, unless it takes longer than `stall` (the source at `url` has stopped sending).
pub(crate) async fn within<T>(
    stall: Duration,
    url: &str,
    step: impl Future<Output = T>,
) -> Result<T, Stalled> {
    tokio::time::timeout(stall, step)
        .await
        .map_err(|_| Stalled {
            url: url.into(),
            after: stall,
        })
}

impl GetError {
    pub(crate) fn unreachable(url: &str, source: reqwest::Error) -> Self {
        Self::Unreachable {
            said: crate::http_client::download_failure(url, &source),
            source,
        }
    }

    /// Whether trying again cannot help.
    pub fn is_final(&self) -> bool {
        !matches!(self, Self::Unreachable { .. } | Self::Stalled(_))
    }
}

/// `url`'s body, at most `limit` bytes: a longer one is refused as soon as it says so or
/// passes the limit; one that sends nothing for `stall` is given up.
pub(crate) async fn fetch_whole(
    url: &str,
    limit: u64,
    stall: Duration,
    progress: &(dyn Fn(u64, Option<u64>) + Sync),
) -> Result<Vec<u8>, GetError> {
    let client = crate::http_client::downloads();
    let response = within(stall, url, client.get(url).send())
        .await?
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| GetError::unreachable(url, e))?;
    let total = response.content_length();
    if let Some(total) = total.filter(|t| *t > limit) {
        return Err(GetError::TooLarge {
            url: url.into(),
            how: format!("sends {total} bytes, more than the {limit} expected"),
        });
    }
    let mut bytes = Vec::with_capacity(total.unwrap_or(0).min(limit) as usize);
    let mut stream = response.bytes_stream();
    while let Some(chunk) = within(stall, url, stream.next()).await? {
        let chunk = chunk.map_err(|e| GetError::unreachable(url, e))?;
        if (bytes.len() + chunk.len()) as u64 > limit {
            return Err(GetError::TooLarge {
                url: url.into(),
                how: format!("went past the {limit} bytes expected; stopped"),
            });
        }
        bytes.extend_from_slice(&chunk);
        progress(bytes.len() as u64, total);
    }
    Ok(bytes)
}

/// `url`'s JSON, read whole (at most `limit` bytes), as `T`; `expected` names what it should
/// be ("the Hub's API") when it is not.
pub(crate) async fn fetch_json<T: serde::de::DeserializeOwned>(
    url: &str,
    limit: u64,
    expected: &'static str,
) -> Result<T, GetError> {
    let body = fetch_whole(url, limit, INDEX_STALL, &|_, _| {}).await?;
    serde_json::from_slice(&body).map_err(|source| GetError::Unexpected {
        url: url.into(),
        expected,
        source,
    })
}
