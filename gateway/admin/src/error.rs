use gateway_store::StoreError;

/// What an administrative operation refuses, in the terms the API answers
/// with (see `api::Problem`).
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No credentials, wrong credentials, an unknown or expired token.
    #[error("{0}")]
    Unauthorized(String),
    /// The object exists but lies outside the actor's subtree, or does not
    /// exist: the two are indistinguishable on purpose.
    #[error("{0}")]
    NotFound(String),
    /// The actor may see the object but not make this change.
    #[error("{0}")]
    Forbidden(String),
    /// A well-formed request whose content is not acceptable.
    #[error("invalid {field}: {detail}")]
    Invalid { field: String, detail: String },
    /// The change collides with the current state (a taken number, an
    /// endpoint already approved).
    #[error("{0}")]
    Conflict(String),
    /// An uploaded dialplan does not validate: every problem, where it is.
    #[error("the dialplan is invalid: {}", .0.iter().map(|i| i.text.as_str()).collect::<Vec<_>>().join("; "))]
    DialplanInvalid(Vec<crate::DialplanIssue>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for AdminError {
    fn from(e: sqlx::Error) -> AdminError {
        AdminError::Store(StoreError::Database(e))
    }
}

impl AdminError {
    pub(crate) fn invalid(field: impl Into<String>, detail: impl Into<String>) -> AdminError {
        AdminError::Invalid {
            field: field.into(),
            detail: detail.into(),
        }
    }
}
