//! Human-in-the-loop suspension (RFC-0025/0026).
//!
//! An agent suspends an intent to ask a human: status `suspended_awaiting_input`, a
//! [`SuspensionRecord`] under the state key [`SUSPENSION_STATE_KEY`], an `intent.suspended` event.
//! The reference has no route for this (the agent writes the three pieces itself); a server may
//! offer `POST /api/v1/intents/{id}/suspend` ([`SuspendRequest`]). The operator answers with
//! `POST /api/v1/intents/{id}/suspend/respond` ([`RespondToSuspensionRequest`] →
//! [`InputResponse`]); the server checks the value with [`SuspensionRecord::check_response`].

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::retries::RetryStrategy;
use crate::validation::{InputValidationError, Validate, fail, require_text, require_text_max};
use crate::wire::null_as_default;

/// The longest wait a suspension may ask for, in seconds (ten years): `timeout_seconds` and a
/// retry policy's `interval_seconds`.
pub const MAX_WAIT_SECONDS: i64 = 315_360_000;

/// The most notification attempts a retry policy may ask for.
pub const MAX_ATTEMPTS: i64 = 1_000;

/// The top-level state key that holds the active [`SuspensionRecord`].
pub const SUSPENSION_STATE_KEY: &str = "_suspension";

wire_enum! {
    /// What kind of answer a suspension expects (RFC-0025 §4.1).
    #[derive(Default)]
    pub enum ResponseType {
        /// One of the listed choices (the default).
        #[default]
        Choice = "choice",
        /// Yes or no (or one of the listed choices).
        Confirm = "confirm",
        /// Free text.
        Text = "text",
        /// Structured fields, passed through.
        Form = "form",
    }
}

wire_enum! {
    /// What happens when nobody answers in time (RFC-0025 §6).
    #[derive(Default)]
    pub enum FallbackPolicy {
        /// Fail: the agent raises, the intent may be abandoned (the default).
        #[default]
        Fail = "fail",
        /// Continue with `fallback_value`.
        CompleteWithFallback = "complete_with_fallback",
        /// Continue with `fallback_value` (compatibility alias of the above).
        UseDefaultAndContinue = "use_default_and_continue",
    }
}

wire_enum! {
    /// How a suspension ended.
    pub enum SuspensionResolution {
        /// The operator answered.
        Responded = "responded",
        /// The timeout passed.
        Expired = "expired",
        /// It was withdrawn.
        Cancelled = "cancelled",
    }
}

wire_model! {
    /// One option put to the operator (RFC-0025 §4.2).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct SuspensionChoice {
        /// The value returned to the agent.
        pub value: String,
        /// What the operator sees.
        #[serde(default, deserialize_with = "null_as_default")]
        pub label: String,
        /// A longer explanation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub description: Option<String>,
        /// A display hint (`primary`, `danger`, `default`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub style: Option<String>,
        /// Extra data.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metadata: Option<Map<String, Value>>,
    }
    aliases {}
    also_emit {}
}

impl SuspensionChoice {
    /// A choice with a value and a label.
    pub fn new(value: impl Into<String>, label: impl Into<String>) -> Self {
        SuspensionChoice { value: value.into(), label: label.into(), ..Default::default() }
    }

    /// The implicit choices of a `confirm` suspension without choices: yes and no.
    pub fn yes_no() -> Vec<SuspensionChoice> {
        vec![SuspensionChoice::new("yes", "Yes"), SuspensionChoice::new("no", "No")]
    }
}

wire_model! {
    /// One rung of an escalation ladder (RFC-0026): at attempt `attempt`, notify `notify_to`
    /// through `channel_hint`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct EscalationStep {
        /// The attempt that triggers it (read also from `after_attempt`).
        pub attempt: i64,
        /// The channel (read also from `channel`).
        #[serde(default, deserialize_with = "null_as_default")]
        pub channel_hint: String,
        /// Who is notified (read also from `notify`).
        #[serde(default, deserialize_with = "null_as_default")]
        pub notify_to: String,
    }
    aliases { "attempt" <= ["after_attempt"], "channel_hint" <= ["channel"], "notify_to" <= ["notify"] }
    also_emit {}
}

fn one() -> i64 {
    1
}

fn hour() -> i64 {
    3600
}

wire_model! {
    /// Re-notification of an unanswered suspension (RFC-0026 HumanRetryPolicy).
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[non_exhaustive]
    pub struct HumanRetryPolicy {
        /// Notification attempts, the first included (RFC default 1; the 0.17 SDK's default is 3).
        #[serde(default = "one")]
        pub max_attempts: i64,
        /// Seconds between attempts (default 3600).
        #[serde(default = "hour")]
        pub interval_seconds: i64,
        /// Spacing of the attempts (default `fixed`).
        #[serde(default = "fixed")]
        pub strategy: RetryStrategy,
        /// The policy once every attempt went unanswered (default `fail`).
        #[serde(default)]
        pub final_fallback_policy: FallbackPolicy,
        /// Escalations by attempt.
        #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
        pub escalation_ladder: Vec<EscalationStep>,
    }
    aliases {}
    also_emit {}
}

fn fixed() -> RetryStrategy {
    RetryStrategy::Fixed
}

impl Default for HumanRetryPolicy {
    fn default() -> Self {
        HumanRetryPolicy {
            max_attempts: one(),
            interval_seconds: hour(),
            strategy: fixed(),
            final_fallback_policy: FallbackPolicy::Fail,
            escalation_ladder: Vec::new(),
        }
    }
}

impl HumanRetryPolicy {
    /// Checks the policy; `field` prefixes the field names (e.g. `retry_policy`).
    pub fn check(&self, field: &str) -> Result<(), InputValidationError> {
        if self.max_attempts < 1 {
            return fail(
                &format!("{field}.max_attempts"),
                format_args!("must be at least 1, got {}", self.max_attempts),
            );
        }
        if self.max_attempts > MAX_ATTEMPTS {
            let got = self.max_attempts;
            return fail(&format!("{field}.max_attempts"), format_args!("must be at most {MAX_ATTEMPTS}, got {got}"));
        }
        if !(1..=MAX_WAIT_SECONDS).contains(&self.interval_seconds) {
            let got = self.interval_seconds;
            return fail(
                &format!("{field}.interval_seconds"),
                format_args!("must be between 1 and {MAX_WAIT_SECONDS}, got {got}"),
            );
        }
        if let RetryStrategy::Unknown(s) = &self.strategy {
            return fail(&format!("{field}.strategy"), format_args!("must be fixed, linear or exponential, got {s:?}"));
        }
        check_fallback(&format!("{field}.final_fallback_policy"), &self.final_fallback_policy)?;
        for (i, step) in self.escalation_ladder.iter().enumerate() {
            if step.attempt < 1 || step.attempt > self.max_attempts {
                let max = self.max_attempts;
                return fail(
                    &format!("{field}.escalation_ladder.{i}.attempt"),
                    format_args!("must be between 1 and max_attempts ({max}), got {}", step.attempt),
                );
            }
        }
        Ok(())
    }
}

fn check_fallback(field: &str, policy: &FallbackPolicy) -> Result<(), InputValidationError> {
    match policy {
        FallbackPolicy::Unknown(s) => {
            fail(field, format_args!("must be fail, complete_with_fallback or use_default_and_continue, got {s:?}"))
        }
        _ => Ok(()),
    }
}

wire_model! {
    /// A suspension, stored in the intent state under [`SUSPENSION_STATE_KEY`] (RFC-0025 §5).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct SuspensionRecord {
        /// Suspension id (quoted back by the operator's answer).
        pub id: String,
        /// The question.
        #[serde(default, deserialize_with = "null_as_default")]
        pub question: String,
        /// The kind of answer expected.
        #[serde(default)]
        pub response_type: ResponseType,
        /// The options, for `choice` and `confirm`.
        #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
        pub choices: Vec<SuspensionChoice>,
        /// Context for the operator.
        #[serde(default, deserialize_with = "null_as_default")]
        pub context: Map<String, Value>,
        /// Preferred delivery channel (`slack`, `email`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub channel_hint: Option<String>,
        /// When it started.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::time::wire_opt")]
        pub suspended_at: Option<DateTime<Utc>>,
        /// How long the operator has, in seconds (none: no timeout).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub timeout_seconds: Option<i64>,
        /// When it times out.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::time::wire_opt")]
        pub expires_at: Option<DateTime<Utc>>,
        /// The value used by the fallback policies that continue.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub fallback_value: Option<Value>,
        /// What happens on timeout.
        #[serde(default)]
        pub fallback_policy: FallbackPolicy,
        /// Re-notification (RFC-0026).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub retry_policy: Option<HumanRetryPolicy>,
        /// The agent's confidence when it asked, in [0, 1].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub confidence_at_suspension: Option<f64>,
        /// The engagement decision that led to the question.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub decision_record: Option<Map<String, Value>>,
        /// The answer, once given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub response: Option<Value>,
        /// Who answered.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub responded_by: Option<String>,
        /// When.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::time::wire_opt")]
        pub responded_at: Option<DateTime<Utc>>,
        /// How it ended.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub resolution: Option<SuspensionResolution>,
        /// Channel metadata of the answer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metadata: Option<Map<String, Value>>,
    }
    aliases { "id" <= ["suspension_id"] }
    also_emit {}
}

/// An answer a suspension does not accept (the 422 of the respond route).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// The stored `response_type` is not one of the four.
    #[error("Unknown response_type '{0}'. Expected one of: ['choice', 'confirm', 'text', 'form']")]
    UnknownResponseType(String),
    /// The value is not one of the choices; the detail is the 422 body's `detail`.
    #[error("{}", .0.message)]
    InvalidChoice(InvalidChoice),
    /// A `text` answer must be a non-empty string.
    #[error("value must be a non-empty string for a text response")]
    EmptyText,
}

wire_model! {
    /// The `detail` of the 422 for an answer that is not a valid choice.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct InvalidChoice {
        /// Always `invalid_choice`.
        pub error: String,
        /// `Value 'maybe' is not a valid choice. Expected one of: ['approve', 'deny']`.
        pub message: String,
        /// The accepted choices.
        #[serde(default, deserialize_with = "null_as_default")]
        pub valid_choices: Vec<SuspensionChoice>,
    }
    aliases {}
    also_emit {}
}

impl InvalidChoice {
    /// The refusal of `value` among `choices`, worded as the reference words it.
    pub fn new(value: &Value, choices: Vec<SuspensionChoice>) -> Self {
        let values: Vec<String> = choices.iter().map(|c| py_repr(&Value::String(c.value.clone()))).collect();
        let message =
            format!("Value {} is not a valid choice. Expected one of: [{}]", py_repr(value), values.join(", "));
        InvalidChoice { error: "invalid_choice".to_owned(), message, valid_choices: choices }
    }
}

/// A JSON value the way Python's `repr` prints the same data.
fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".to_owned(),
        Value::Bool(b) => if *b { "True" } else { "False" }.to_owned(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.contains('\'') && !s.contains('"') => format!("\"{s}\""),
        Value::String(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        Value::Array(a) => format!("[{}]", a.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => {
            let items: Vec<String> =
                o.iter().map(|(k, v)| format!("{}: {}", py_repr(&Value::String(k.clone())), py_repr(v))).collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

impl SuspensionRecord {
    /// The record stored in `state`, if any (`Some(Err)` when the key holds something else).
    pub fn from_state(state: &Map<String, Value>) -> Option<Result<SuspensionRecord, serde_json::Error>> {
        state.get(SUSPENSION_STATE_KEY).map(|v| serde_json::from_value(v.clone()))
    }

    /// The choices an answer is checked against: the stored ones, else yes/no for `confirm`.
    pub fn effective_choices(&self) -> Vec<SuspensionChoice> {
        if self.choices.is_empty() && self.response_type == ResponseType::Confirm {
            SuspensionChoice::yes_no()
        } else {
            self.choices.clone()
        }
    }

    /// Checks an operator's answer (RFC-0025 §8): `choice` and `confirm` answers must be one of
    /// [`SuspensionRecord::effective_choices`] (a `choice` suspension without choices accepts
    /// anything), `text` answers must be non-empty strings, `form` answers pass. Returns the
    /// matched stored choice, whose label and description go into the [`InputResponse`].
    ///
    /// ```
    /// use openintent_types::{ResponseType, SuspensionRecord};
    /// let mut record = SuspensionRecord::new("s1", "Deploy?");
    /// record.response_type = ResponseType::Confirm;
    /// assert!(record.check_response(&"yes".into()).is_ok());
    /// let err = record.check_response(&"ok".into()).unwrap_err();
    /// assert_eq!(err.to_string(), "Value 'ok' is not a valid choice. Expected one of: ['yes', 'no']");
    /// ```
    pub fn check_response(&self, value: &Value) -> Result<Option<SuspensionChoice>, ResponseError> {
        match &self.response_type {
            ResponseType::Unknown(t) => Err(ResponseError::UnknownResponseType(t.clone())),
            ResponseType::Text => match value.as_str() {
                Some(s) if !s.trim().is_empty() => Ok(None),
                _ => Err(ResponseError::EmptyText),
            },
            ResponseType::Form => Ok(None),
            ResponseType::Choice | ResponseType::Confirm => {
                let choices = self.effective_choices();
                if choices.is_empty() {
                    return Ok(None);
                }
                match choices.iter().find(|c| value.as_str() == Some(c.value.as_str())) {
                    Some(_) if self.choices.is_empty() => Ok(None),
                    Some(c) => Ok(Some(c.clone())),
                    None => Err(ResponseError::InvalidChoice(InvalidChoice::new(value, choices))),
                }
            }
        }
    }

    /// A record with an id and a question, suspended now.
    pub fn new(id: impl Into<String>, question: impl Into<String>) -> Self {
        SuspensionRecord {
            id: id.into(),
            question: question.into(),
            suspended_at: Some(crate::time::now()),
            ..Default::default()
        }
    }

    /// When the suspension times out: `expires_at`, else `suspended_at + timeout_seconds`, else
    /// (with a retry policy) `suspended_at + interval_seconds × max_attempts`; `None` when it never
    /// does.
    pub fn deadline(&self) -> Option<DateTime<Utc>> {
        if self.expires_at.is_some() {
            return self.expires_at;
        }
        let start = self.suspended_at?;
        let secs = match (&self.timeout_seconds, &self.retry_policy) {
            (Some(t), _) => *t,
            (None, Some(p)) => p.interval_seconds.saturating_mul(p.max_attempts),
            (None, None) => return None,
        };
        // Out of chrono's range: never (the request checks keep real values far below it).
        chrono::Duration::try_seconds(secs).and_then(|d| start.checked_add_signed(d))
    }

    /// Whether the suspension is unanswered and past its deadline at `now`.
    pub fn is_expired_at(&self, now: DateTime<Utc>) -> bool {
        self.resolution.is_none() && self.deadline().is_some_and(|d| d <= now)
    }

    /// Records an accepted answer in the record (what the server persists under
    /// [`SUSPENSION_STATE_KEY`]).
    pub fn record_response(&mut self, answer: &InputResponse) {
        self.response = Some(answer.value.clone());
        self.responded_by = Some(answer.responded_by.clone());
        self.responded_at = Some(answer.responded_at);
        self.resolution = Some(SuspensionResolution::Responded);
        if answer.metadata.is_some() {
            self.metadata = answer.metadata.clone();
        }
    }
}

wire_model! {
    /// Body of `POST /api/v1/intents/{id}/suspend` (the atomic suspension a Rust server offers:
    /// status, state record and `intent.suspended` event in one write). The reference has no such
    /// route; agents there write the three pieces with `/status`, `/state` and `/events`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct SuspendRequest {
        /// The question (required).
        pub question: String,
        /// The kind of answer (default `choice`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub response_type: Option<ResponseType>,
        /// The options (at least one for `choice`).
        #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
        pub choices: Vec<SuspensionChoice>,
        /// Context for the operator.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub context: Option<Map<String, Value>>,
        /// Preferred channel.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub channel_hint: Option<String>,
        /// Seconds the operator has (none: no timeout).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub timeout_seconds: Option<i64>,
        /// What happens on timeout (default `fail`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub fallback_policy: Option<FallbackPolicy>,
        /// The value used when a continuing policy times out; for `choice`/`confirm`, a choice.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub fallback_value: Option<Value>,
        /// Re-notification and escalation (RFC-0026).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub retry_policy: Option<HumanRetryPolicy>,
        /// The agent's confidence, in [0, 1].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub confidence: Option<f64>,
        /// A client-chosen suspension id (servers generate one otherwise).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub suspension_id: Option<String>,
    }
    aliases { "confidence" <= ["confidence_at_suspension"], "suspension_id" <= ["id"] }
    also_emit {}
}

impl SuspendRequest {
    /// A `choice`-less question (set `response_type` and `choices` as needed).
    pub fn new(question: impl Into<String>) -> Self {
        SuspendRequest { question: question.into(), ..Default::default() }
    }

    /// The record this request stores, with id `id` (unless the request names one), suspended at
    /// `now`, `expires_at` computed from the timeout or the retry policy.
    pub fn into_record(self, id: impl Into<String>, now: DateTime<Utc>) -> SuspensionRecord {
        let mut record = SuspensionRecord {
            id: self.suspension_id.unwrap_or_else(|| id.into()),
            question: self.question,
            response_type: self.response_type.unwrap_or_default(),
            choices: self.choices,
            context: self.context.unwrap_or_default(),
            channel_hint: self.channel_hint,
            suspended_at: Some(now),
            timeout_seconds: self.timeout_seconds,
            fallback_value: self.fallback_value,
            fallback_policy: self.fallback_policy.unwrap_or_default(),
            retry_policy: self.retry_policy,
            confidence_at_suspension: self.confidence,
            ..Default::default()
        };
        record.expires_at = record.deadline();
        record
    }
}

impl Validate for SuspendRequest {
    fn validate(&self) -> Result<(), InputValidationError> {
        require_text_max("question", &self.question, 10_000)?;
        let response_type = self.response_type.clone().unwrap_or_default();
        if let ResponseType::Unknown(t) = &response_type {
            return fail("response_type", format_args!("must be choice, confirm, text or form, got {t:?}"));
        }
        if response_type == ResponseType::Choice && self.choices.is_empty() {
            return fail("choices", "must hold at least one choice for a choice response");
        }
        let mut seen = std::collections::HashSet::new();
        for (i, c) in self.choices.iter().enumerate() {
            require_text(&format!("choices.{i}.value"), &c.value)?;
            require_text(&format!("choices.{i}.label"), &c.label)?;
            if !seen.insert(c.value.as_str()) {
                return fail(&format!("choices.{i}.value"), format_args!("repeats the choice {:?}", c.value));
            }
        }
        if let Some(t) = self.timeout_seconds
            && !(1..=MAX_WAIT_SECONDS).contains(&t)
        {
            return fail("timeout_seconds", format_args!("must be between 1 and {MAX_WAIT_SECONDS}, got {t}"));
        }
        if let Some(p) = &self.fallback_policy {
            check_fallback("fallback_policy", p)?;
        }
        if let Some(v) = &self.fallback_value {
            let probe = SuspensionRecord { response_type, choices: self.choices.clone(), ..Default::default() };
            if let Err(ResponseError::InvalidChoice(e)) = probe.check_response(v) {
                return fail("fallback_value", format_args!("must be one of the choices: {}", e.message));
            }
        }
        if let Some(p) = &self.retry_policy {
            p.check("retry_policy")?;
        }
        if let Some(c) = self.confidence
            && !(c.is_finite() && (0.0..=1.0).contains(&c))
        {
            return fail("confidence", format_args!("must be between 0 and 1, got {c}"));
        }
        if let Some(id) = &self.suspension_id {
            crate::validation::validate_id("suspension_id", id)?;
        }
        Ok(())
    }
}

wire_model! {
    /// Body of `POST /api/v1/intents/{id}/suspend/respond`: the operator's answer.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct RespondToSuspensionRequest {
        /// The suspension answered (must match the active one).
        pub suspension_id: String,
        /// The answer (required; checked against the suspension's type and choices).
        #[serde(default)]
        pub value: Value,
        /// Who answers (servers default it to the caller).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub responded_by: Option<String>,
        /// Channel metadata.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metadata: Option<Map<String, Value>>,
    }
    aliases { "suspension_id" <= ["suspensionId"], "value" <= ["response"], "responded_by" <= ["respondedBy"] }
    also_emit {}
}

impl RespondToSuspensionRequest {
    /// An answer to `suspension_id`.
    pub fn new(suspension_id: impl Into<String>, value: impl Into<Value>) -> Self {
        RespondToSuspensionRequest { suspension_id: suspension_id.into(), value: value.into(), ..Default::default() }
    }
}

impl Validate for RespondToSuspensionRequest {
    fn validate(&self) -> Result<(), InputValidationError> {
        require_text_max("suspension_id", &self.suspension_id, 255)?;
        if self.value.is_null() {
            return fail("value", "is required");
        }
        if let Some(r) = &self.responded_by {
            require_text_max("responded_by", r, 255)?;
        }
        Ok(())
    }
}

fn responded() -> SuspensionResolution {
    SuspensionResolution::Responded
}

wire_model! {
    /// An accepted answer (RFC-0025 §10): the respond route's 200 body, the `intent.resumed`
    /// event payload and its SSE data.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[non_exhaustive]
    pub struct InputResponse {
        /// The intent.
        #[serde(default, deserialize_with = "null_as_default")]
        pub intent_id: String,
        /// The suspension answered.
        pub suspension_id: String,
        /// Always `responded` here.
        #[serde(default = "responded")]
        pub resolution: SuspensionResolution,
        /// The answer.
        #[serde(default)]
        pub value: Value,
        /// Who answered.
        #[serde(default, deserialize_with = "null_as_default")]
        pub responded_by: String,
        /// When.
        #[serde(with = "crate::time::wire", default)]
        pub responded_at: DateTime<Utc>,
        /// The matched choice's label.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub choice_label: Option<String>,
        /// The matched choice's description (`""` when it has none).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub choice_description: Option<String>,
        /// Channel metadata.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metadata: Option<Map<String, Value>>,
    }
    aliases { "value" <= ["response"] }
    also_emit {}
}

impl Default for InputResponse {
    fn default() -> Self {
        InputResponse {
            intent_id: String::new(),
            suspension_id: String::new(),
            resolution: SuspensionResolution::Responded,
            value: Value::Null,
            responded_by: String::new(),
            responded_at: DateTime::<Utc>::default(),
            choice_label: None,
            choice_description: None,
            metadata: None,
        }
    }
}

impl InputResponse {
    /// The answer to `request` on `intent_id` at `now`, labelled with the matched choice.
    pub fn accept(
        intent_id: impl Into<String>,
        request: &RespondToSuspensionRequest,
        responded_by: impl Into<String>,
        matched: Option<&SuspensionChoice>,
        now: DateTime<Utc>,
    ) -> Self {
        InputResponse {
            intent_id: intent_id.into(),
            suspension_id: request.suspension_id.clone(),
            resolution: SuspensionResolution::Responded,
            value: request.value.clone(),
            responded_by: responded_by.into(),
            responded_at: now,
            choice_label: matched.map(|c| c.label.clone()),
            choice_description: matched.map(|c| c.description.clone().unwrap_or_default()),
            metadata: request.metadata.clone(),
        }
    }
}

wire_model! {
    /// The suspension settings of `GET /api/v1/server/config`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct SuspensionConfig {
        /// The platform's default retry policy (RFC-0026), if any.
        #[serde(default)]
        pub default_retry_policy: Option<HumanRetryPolicy>,
    }
    aliases {}
    also_emit {}
}

wire_model! {
    /// Answer of `GET /api/v1/server/config` (no key needed).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct ServerConfig {
        /// The protocol version the server speaks.
        #[serde(default, deserialize_with = "null_as_default")]
        pub protocol_version: String,
        /// Suspension settings.
        #[serde(default, deserialize_with = "null_as_default")]
        pub suspension: SuspensionConfig,
    }
    aliases {}
    also_emit {}
}

// ----- request field rules (validation and the OpenAPI document read these) -----------------

impl crate::schema::RequestSchema for SuspendRequest {
    const FIELDS: &'static [crate::schema::Field] = {
        use crate::schema::{Kind, opt, req};
        &[
            req("question", Kind::Str).text(10_000),
            opt("response_type", Kind::Str).one_of(ResponseType::known_names),
            opt("choices", Kind::List),
            opt("context", Kind::Obj),
            opt("channel_hint", Kind::Str),
            opt("timeout_seconds", Kind::Int).range(1.0, MAX_WAIT_SECONDS as f64).unit("seconds"),
            opt("fallback_policy", Kind::Str).one_of(FallbackPolicy::known_names),
            opt("retry_policy", Kind::Obj),
            opt("confidence", Kind::Num).range(0.0, 1.0),
            opt("suspension_id", Kind::Str).id(),
        ]
    };
}

impl crate::schema::RequestSchema for RespondToSuspensionRequest {
    const FIELDS: &'static [crate::schema::Field] = {
        use crate::schema::{Kind, opt, req};
        &[
            req("suspension_id", Kind::Str).text(255),
            opt("responded_by", Kind::Str).text(255),
            opt("metadata", Kind::Obj),
        ]
    };
}
