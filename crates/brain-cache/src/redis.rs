//! Redis backend: plain commands for values, one Lua script per counter operation so each is
//! atomic on the server, and millisecond TTLs (`PX`, `PEXPIRE`, `PTTL`) like the memory backend.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Cmd, RedisError, Script, Value};

use crate::args::{self, Namespace};
use crate::{Cache, CacheError, Consumption, WindowCount, redact_url};

const BACKEND: &str = "redis";

/// Connection attempts after the first (backoff from 100 ms). The default of 6 made a wrong
/// address take ~10 s to report at startup; a lost connection is retried again on the next call.
const CONNECT_RETRIES: usize = 3;

/// Error code our scripts reply with when a key cannot serve as a counter.
const COUNTER_ERROR: &str = "BRAINCOUNTER";

/// Shared start of both counter scripts: give a counter without expiry a window starting now,
/// and report the time left. `INCRBY` failures become `BRAINCOUNTER` replies so they map to
/// [`CacheError::InvalidCounter`] like the memory backend's.
const COUNTER_PRELUDE: &str = r"
local key, window = KEYS[1], tonumber(ARGV[1])
local function counter_error(reply)
  return redis.error_reply('BRAINCOUNTER ' .. string.gsub(reply.err, '^ERR ', ''))
end
local function window_left()
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    redis.call('PEXPIRE', key, window)
    ttl = window
  end
  return ttl
end
";

/// ARGV: window ms, delta. Returns {total as text, ms left}; text keeps all 64 bits exact.
const INCR_WINDOW: &str = r"
local total = redis.pcall('INCRBY', key, ARGV[2])
if type(total) == 'table' then return counter_error(total) end
return {redis.call('GET', key), window_left()}
";

/// ARGV: window ms, amount, limit. Returns {granted 0/1, used as text, ms left}.
/// A refused call on an absent key does not create it.
const TRY_CONSUME: &str = r"
local amount, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
if redis.call('EXISTS', key) == 0 then
  if amount > limit then return {0, '0', window} end
  redis.call('SET', key, ARGV[2], 'PX', window)
  return {1, ARGV[2], window}
end
local used = redis.pcall('INCRBY', key, 0)
if type(used) == 'table' then return counter_error(used) end
local ttl = window_left()
if used > limit - amount then return {0, redis.call('GET', key), ttl} end
return {1, redis.call('INCRBY', key, ARGV[2]), ttl}
";

/// The Redis cache. Cloning is cheap: clones share the multiplexed connection.
#[derive(Clone)]
pub struct RedisCache {
    namespace: Namespace,
    connection: ConnectionManager,
    incr_window: Script,
    try_consume: Script,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl RedisCache {
    /// Connects to `url` (`redis://[[user]:password@]host[:port][/db]`).
    pub async fn connect(url: &str, namespace: &str) -> Result<Self, CacheError> {
        let namespace = Namespace::new(namespace)?;
        let client = Client::open(url).map_err(|err| CacheError::InvalidUrl {
            url: redact_url(url),
            reason: err.to_string(),
        })?;
        let config = ConnectionManagerConfig::new().set_number_of_retries(CONNECT_RETRIES);
        let connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|err| CacheError::Unreachable {
                backend: BACKEND,
                url: redact_url(url),
                source: err.into(),
            })?;
        Ok(Self {
            namespace,
            connection,
            incr_window: Script::new(&format!("{COUNTER_PRELUDE}{INCR_WINDOW}")),
            try_consume: Script::new(&format!("{COUNTER_PRELUDE}{TRY_CONSUME}")),
        })
    }

    async fn query<T: redis::FromRedisValue>(&self, cmd: &Cmd) -> Result<T, CacheError> {
        cmd.query_async(&mut self.connection.clone())
            .await
            .map_err(backend_error)
    }
}

fn backend_error(err: RedisError) -> CacheError {
    CacheError::Backend {
        backend: BACKEND,
        source: err.into(),
    }
}

/// Maps a script error, turning our `BRAINCOUNTER` replies into [`CacheError::InvalidCounter`].
fn script_error(key: &str) -> impl FnOnce(RedisError) -> CacheError {
    move |err| match err.code() {
        Some(COUNTER_ERROR) => CacheError::InvalidCounter {
            key: key.to_owned(),
            reason: err.detail().unwrap_or("not an integer").to_owned(),
        },
        _ => backend_error(err),
    }
}

#[async_trait::async_trait]
impl Cache for RedisCache {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        self.query(redis::cmd("GET").arg(self.namespace.key(key)))
            .await
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), CacheError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.namespace.key(key)).arg(value);
        if let Some(ttl) = ttl {
            cmd.arg("PX").arg(args::ttl_millis("ttl", ttl)?);
        }
        self.query::<()>(&cmd).await
    }

    async fn delete(&self, key: &str) -> Result<bool, CacheError> {
        let removed: i64 = self
            .query(redis::cmd("DEL").arg(self.namespace.key(key)))
            .await?;
        Ok(removed > 0)
    }

    async fn set_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, CacheError> {
        let ttl = args::ttl_millis("ttl", ttl)?;
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.namespace.key(key))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(ttl);
        let reply: Value = self.query(&cmd).await?;
        Ok(!matches!(reply, Value::Nil))
    }

    async fn incr_window(
        &self,
        key: &str,
        delta: i64,
        window: Duration,
    ) -> Result<WindowCount, CacheError> {
        let window = args::ttl_millis("window", window)?;
        let (total, left): (i64, i64) = self
            .incr_window
            .key(self.namespace.key(key))
            .arg(window)
            .arg(delta)
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(script_error(key))?;
        Ok(WindowCount {
            total,
            resets_in: args::resets_in_millis(left),
        })
    }

    async fn try_consume(
        &self,
        key: &str,
        amount: i64,
        limit: i64,
        window: Duration,
    ) -> Result<Consumption, CacheError> {
        args::check_quota(amount, limit)?;
        let window = args::ttl_millis("window", window)?;
        let (granted, used, left): (i64, i64, i64) = self
            .try_consume
            .key(self.namespace.key(key))
            .arg(window)
            .arg(amount)
            .arg(limit)
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(script_error(key))?;
        Ok(Consumption {
            granted: granted == 1,
            used,
            resets_in: args::resets_in_millis(left),
        })
    }

    async fn ping(&self) -> Result<(), CacheError> {
        self.query::<()>(&redis::cmd("PING")).await
    }
}
