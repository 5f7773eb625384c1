//! The machine-readable `code` of an error reply ([`Code`]): one list, each with the text the
//! JSON says.

use serde::Serialize;

macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident = $text:literal,)*) => {
        /// The machine-readable `code` of an error reply: what a client may branch on.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $($(#[$doc])* $variant,)*
        }

        impl Code {
            /// As the JSON says it: `engine_not_ready`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }
        }
    };
}

codes! {
    // A request Murmur will not take.
    AudioTooLong = "audio_too_long",
    AudioTooShort = "audio_too_short",
    BadHost = "bad_host",
    BodyTimeout = "body_timeout",
    ConfigBroken = "config_broken",
    ControlDisabled = "control_disabled",
    CrossSite = "cross_site",
    EmptyFile = "empty_file",
    EmptyInput = "empty_input",
    FieldTooLong = "field_too_long",
    HostNotAllowed = "host_not_allowed",
    InputTooLong = "input_too_long",
    InvalidApiKey = "invalid_api_key",
    InvalidAudio = "invalid_audio",
    InvalidCharacters = "invalid_characters",
    InvalidContentType = "invalid_content_type",
    InvalidFormat = "invalid_format",
    InvalidJson = "invalid_json",
    InvalidLanguage = "invalid_language",
    InvalidMultipart = "invalid_multipart",
    InvalidRequest = "invalid_request",
    InvalidResponseFormat = "invalid_response_format",
    InvalidSettings = "invalid_settings",
    InvalidSpeed = "invalid_speed",
    InvalidStream = "invalid_stream",
    InvalidStreamFormat = "invalid_stream_format",
    InvalidTemperature = "invalid_temperature",
    InvalidToken = "invalid_token",
    InvalidType = "invalid_type",
    UnsupportedAudio = "unsupported_audio",
    MethodNotAllowed = "method_not_allowed",
    MissingFile = "missing_file",
    MissingInput = "missing_input",
    ModelBusy = "model_busy",
    ModelNotAvailable = "model_not_available",
    NoVoiceForLanguage = "no_voice_for_language",
    NotAllowed = "not_allowed",
    NotFound = "not_found",
    NotManaged = "not_managed",
    NothingToSay = "nothing_to_say",
    OriginNotAllowed = "origin_not_allowed",
    RequestTooLarge = "request_too_large",
    SaveFailed = "save_failed",
    TooManySessions = "too_many_sessions",
    UnsupportedOption = "unsupported_option",
    VoiceBusy = "voice_busy",
    // The engine could not answer.
    AudioFailed = "audio_failed",
    BadUpstream = "bad_upstream",
    CatalogUnavailable = "catalog_unavailable",
    DecodeFailed = "decode_failed",
    EmptyResponse = "empty_response",
    EngineBusy = "engine_busy",
    EngineFailed = "engine_failed",
    EngineNotReady = "engine_not_ready",
    EngineRequest = "engine_request",
    EngineStuck = "engine_stuck",
    EngineTimeout = "engine_timeout",
    EngineUnreachable = "engine_unreachable",
    /// Murmur itself is not answering yet (the desktop window asked too early).
    Starting = "starting",
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}
