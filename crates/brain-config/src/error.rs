/// Why a configuration was refused. Every variant names the key (dotted path) when there is one.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("config is not valid YAML: {reason}")]
    Syntax { reason: String },
    #[error("config key `{key}`: {reason}")]
    Invalid { key: String, reason: String },
    #[error("environment variable {var}: {reason}")]
    Env { var: String, reason: String },
}
