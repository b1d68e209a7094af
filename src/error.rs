//! Kafka's error codes as the broker answers them, with an optional message.
//!
//! Handlers and the broker state speak in [`KafkaError`] so every failure maps to the
//! exact code a Kafka broker would send; the codes themselves come from
//! `kafka_protocol::ResponseError`, never from literals.

pub use kafka_protocol::ResponseError;

#[derive(Clone, Debug, PartialEq)]
pub struct KafkaError {
    pub error: ResponseError,
    pub message: Option<String>,
}

impl KafkaError {
    pub fn new(error: ResponseError, message: impl Into<String>) -> KafkaError {
        KafkaError {
            error,
            message: Some(message.into()),
        }
    }

    pub fn code(&self) -> i16 {
        self.error.code()
    }
}

impl From<ResponseError> for KafkaError {
    fn from(error: ResponseError) -> KafkaError {
        KafkaError {
            error,
            message: None,
        }
    }
}

impl std::fmt::Display for KafkaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.message {
            Some(m) => write!(f, "{:?}: {m}", self.error),
            None => write!(f, "{:?}", self.error),
        }
    }
}
