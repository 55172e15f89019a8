//! The client commands: each one calls the server and prints a table, a key/value block or JSON.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures_util::{StreamExt, TryStreamExt};
use openintent_client::Client;
use openintent_client::types::{CostRecord, Intent, IntentEvent, Lease, Portfolio, StatePatch, StreamEvent};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::args::{CostsCommand, EventsCommand, IntentsCommand, LeasesCommand, PortfoliosCommand};
use crate::errors::CliError;
use crate::output::{Fields, Table, amount, compact, cut, pretty, time};
use crate::stdout::emit;

/// How to print.
#[derive(Debug, Clone, Copy)]
pub struct Out {
    /// JSON instead of text.
    pub json: bool,
}

impl Out {
    /// Prints `value` as pretty JSON, or `text()` for people.
    fn show<T: Serialize + ?Sized>(&self, value: &T, text: impl FnOnce() -> String) -> Result<(), CliError> {
        if self.json {
            let s = serde_json::to_string_pretty(value).map_err(|e| CliError::Other(e.to_string()))?;
            emit(&format!("{s}\n"))
        } else {
            emit(&text())
        }
    }
}

type Res = Result<(), CliError>;

/// Parses a JSON object given on the command line, naming the option when it is not one.
pub fn json_object(option: &str, text: &str) -> Result<Map<String, Value>, CliError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(CliError::Usage(format!("{option} must be a JSON object, like '{{\"key\": 1}}'"))),
        Err(e) => Err(CliError::Usage(format!("{option} is not valid JSON: {e}"))),
    }
}

/// Parses `key=value`: the value is JSON when it parses as JSON, else a string.
pub fn key_value(text: &str) -> Result<(String, Value), CliError> {
    let (k, v) =
        text.split_once('=').ok_or_else(|| CliError::Usage(format!("--set expects KEY=VALUE, got {text:?}")))?;
    let k = k.trim();
    if k.is_empty() {
        return Err(CliError::Usage(format!("--set expects KEY=VALUE with a non-empty key, got {text:?}")));
    }
    let value = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_owned()));
    Ok((k.to_owned(), value))
}

// ----- intents -----

/// `openintent intents ...`
pub async fn intents(client: &Client, out: Out, cmd: IntentsCommand) -> Res {
    match cmd {
        IntentsCommand::Create { title, description, constraints, state, status, parent_id } => {
            let mut b = client.create_intent(title);
            if let Some(d) = description {
                b = b.description(d);
            }
            if let Some(c) = constraints {
                b = b.constraints(Value::Object(json_object("--constraints", &c)?));
            }
            if let Some(s) = state {
                b = b.initial_state(Value::Object(json_object("--state", &s)?));
            }
            if let Some(s) = status {
                b = b.status(s);
            }
            if let Some(p) = parent_id {
                b = b.parent_id(p);
            }
            let intent = b.send().await?;
            out.show(&intent, || format!("Created intent {}\n{}", intent.id, intent_fields(&intent)))
        }
        IntentsCommand::Get { id } => {
            let intent = client.get_intent(&id).await?;
            out.show(&intent, || intent_fields(&intent))
        }
        IntentsCommand::List { status, limit, offset, all } => {
            let mut b = client.list_intents().limit(limit).offset(offset);
            if let Some(s) = status {
                b = b.status(s);
            }
            let intents: Vec<Intent> = if all { b.into_stream().try_collect().await? } else { b.send().await?.items };
            out.show(&intents, || {
                if intents.is_empty() {
                    return "No intents.\n".to_owned();
                }
                let mut t = Table::new(["ID", "TITLE", "STATUS", "VERSION", "UPDATED"]).keep_whole(0);
                for i in &intents {
                    t.row([
                        i.id.clone(),
                        i.title.clone(),
                        i.status.to_string(),
                        i.version.to_string(),
                        time(&i.updated_at),
                    ]);
                }
                t.render()
            })
        }
        IntentsCommand::Patch { id, set, merge, remove, version } => {
            let mut patches = Vec::new();
            for kv in &set {
                let (k, v) = key_value(kv)?;
                patches.push(StatePatch::set_key(&k, v));
            }
            if let Some(m) = merge {
                for (k, v) in json_object("--merge", &m)? {
                    patches.push(StatePatch::set_key(&k, v));
                }
            }
            for r in remove {
                patches.push(StatePatch::remove(r));
            }
            if patches.is_empty() {
                return Err(CliError::Usage("nothing to change: give --set, --merge or --remove".to_owned()));
            }
            let intent = match version {
                Some(v) => client.update_state(&id, v).patches(patches).send().await?,
                None => client.update_state_with(&id, move |_| patches.clone()).send().await?,
            };
            out.show(&intent, || {
                format!("Intent {} is now at version {}\n{}", intent.id, intent.version, intent_fields(&intent))
            })
        }
        IntentsCommand::Status { id, status, version, reason } => {
            let version = match version {
                Some(v) => v,
                None => client.get_intent(&id).await?.version,
            };
            let mut b = client.set_status(&id, version, status);
            if let Some(r) = reason {
                b = b.reason(r);
            }
            let intent = b.send().await?;
            out.show(&intent, || {
                format!("Intent {} is now {} (version {})\n", intent.id, intent.status, intent.version)
            })
        }
    }
}

fn intent_fields(i: &Intent) -> String {
    let mut f = Fields::new();
    f.add("id", i.id.clone())
        .add("title", i.title.clone())
        .add_nonempty("description", i.description.clone())
        .add("status", i.status.to_string())
        .add("version", i.version.to_string())
        .add_nonempty("created by", i.created_by.clone())
        .add_nonempty("parent", i.parent_id.clone().unwrap_or_default())
        .add_nonempty("depends on", i.depends_on.join(", "));
    if !i.constraints.is_empty() {
        f.add("constraints", compact(&i.constraints));
    }
    f.add("state", pretty(&i.state)).add("created", time(&i.created_at)).add("updated", time(&i.updated_at));
    f.render()
}

// ----- events -----

/// `openintent events ...`
pub async fn events(client: &Client, out: Out, cmd: EventsCommand) -> Res {
    match cmd {
        EventsCommand::List { id, event_type, limit, follow } => {
            let mut b = client.get_events(&id);
            if let Some(t) = &event_type {
                b = b.event_type(t.as_str());
            }
            if let Some(l) = limit {
                b = b.limit(l);
            }
            let mut events = b.send().await?;
            // Servers answer newest first; a log reads top-down.
            events.reverse();
            if follow {
                follow_events(client, out, &id, events, event_type.as_deref()).await
            } else {
                out.show(&events, || {
                    if events.is_empty() { "No events.\n".to_owned() } else { event_table(&events).render() }
                })
            }
        }
        EventsCommand::Log { id, event_type, payload } => {
            let mut b = client.log_event(&id, event_type);
            if let Some(p) = payload {
                b = b.payload(Value::Object(json_object("--payload", &p)?));
            }
            let event = b.send().await?;
            out.show(&event, || {
                format!("Logged {} event {} on intent {}\n", event.event_type, event.id, event.intent_id)
            })
        }
    }
}

/// The columns of an event, in the table of `events list` and the lines of `--follow`.
const EVENT_COLUMNS: [&str; 4] = ["TIME", "TYPE", "ACTOR", "DETAILS"];

/// The cells of an event under [`EVENT_COLUMNS`]: the one format of an event, listed or followed.
fn event_cells(e: &IntentEvent) -> [String; 4] {
    [time(&e.created_at), e.event_type.to_string(), e.actor.clone(), cut(&compact(&e.payload), 100)]
}

fn event_table(events: &[IntentEvent]) -> Table {
    let mut t = Table::new(EVENT_COLUMNS).keep_whole(3);
    for e in events {
        t.row(event_cells(e));
    }
    t
}

/// How many of the newest events `--follow` reads after a live state or status change.
const RECENT_EVENTS: u32 = 50;

/// Prints the history, then every new event until the stream ends or Ctrl-C, each as one line of
/// [`event_cells`] (a JSON event object with `--json`). A state or status change arrives on the
/// stream as the changed intent; its event, with actor and payload, is read from the log.
async fn follow_events(client: &Client, out: Out, id: &str, history: Vec<IntentEvent>, only: Option<&str>) -> Res {
    let mut follower = Follower { out, seen: std::collections::HashSet::new(), newest: None };
    if !out.json {
        emit(&format!("{}\n", line(&EVENT_COLUMNS.map(str::to_owned)).trim_end()))?;
    }
    for e in &history {
        follower.event(e)?;
    }
    if !out.json {
        eprintln!("-- following intent {id}; Ctrl-C to stop");
    }
    // Resume after the newest event shown, so that nothing logged meanwhile is missed.
    let mut builder = client.stream_intent_events(id);
    if let Some(newest) = history.last() {
        builder = builder.last_event_id(newest.id.clone());
    }
    let mut stream = builder.into_stream();
    loop {
        let next = tokio::select! {
            next = stream.next() => next,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let Some(item) = next else { return Ok(()) };
        let ev = item?;
        let kind = ev.event_type();
        if only.is_some_and(|t| t != kind) {
            continue;
        }
        match &ev {
            StreamEvent::Event(e) => follower.event(e)?,
            StreamEvent::IntentChanged { event_type, intent } => {
                let mut recent = client.get_events(id).limit(RECENT_EVENTS);
                if let Some(t) = only {
                    recent = recent.event_type(t);
                }
                match recent.send().await {
                    Ok(events) => {
                        // Newest first from the server; printed oldest first, each once.
                        for e in events.iter().rev() {
                            follower.recent(e)?;
                        }
                    }
                    Err(_) => {
                        // The log cannot be read now: the change as the stream told it.
                        let details = format!(
                            "status={} version={} state={}",
                            intent.status,
                            intent.version,
                            cut(&compact(&intent.state), 80)
                        );
                        let value = json!({ "event_type": event_type.as_str(), "intent": intent });
                        follower.other(&[time(&intent.updated_at), kind, String::new(), details], &value)?;
                    }
                }
            }
            other => {
                let value = match other {
                    StreamEvent::AgentAssigned(a) => json!({ "event_type": kind, "assignment": a }),
                    StreamEvent::PortfolioChanged { data, .. } => json!({ "event_type": kind, "data": data }),
                    StreamEvent::Other { data, .. } => json!({ "event_type": kind, "data": data }),
                    _ => json!({ "event_type": kind }),
                };
                follower.other(&[String::new(), kind.clone(), String::new(), value.to_string()], &value)?;
            }
        }
    }
}

/// One followed line: the cells padded to fixed widths (later lines are not known yet).
fn line(cells: &[String; 4]) -> String {
    let [time, kind, actor, details] = cells;
    format!("{time:<20}  {kind:<18}  {actor:<16}  {details}")
}

/// Prints the lines of `--follow`, each event once (a resumed stream, or a re-read of the log,
/// may repeat it).
struct Follower {
    out: Out,
    seen: std::collections::HashSet<String>,
    /// When the newest printed event happened.
    newest: Option<DateTime<Utc>>,
}

impl Follower {
    fn event(&mut self, e: &IntentEvent) -> Res {
        if !self.seen.insert(e.id.clone()) {
            return Ok(());
        }
        self.newest = self.newest.max(Some(e.created_at));
        if self.out.json {
            emit(&format!("{}\n", serde_json::to_string(e).unwrap_or_default()))
        } else {
            emit(&format!("{}\n", line(&event_cells(e))))
        }
    }

    /// An event of a re-read of the log: printed unless it is older than the events printed (a
    /// history cut by `--limit` leaves older events out, and they are not new).
    fn recent(&mut self, e: &IntentEvent) -> Res {
        if self.newest.is_some_and(|newest| e.created_at < newest) {
            return Ok(());
        }
        self.event(e)
    }

    /// A stream message that is not an event of the log.
    fn other(&self, cells: &[String; 4], value: &Value) -> Res {
        if self.out.json { emit(&format!("{value}\n")) } else { emit(&format!("{}\n", line(cells))) }
    }
}

// ----- leases -----

/// `openintent leases ...`
pub async fn leases(client: &Client, out: Out, cmd: LeasesCommand) -> Res {
    match cmd {
        LeasesCommand::List { id, all } => {
            let b = client.get_leases(&id);
            let leases = if all { b.all().send().await? } else { b.send().await? };
            out.show(&leases, || {
                if leases.is_empty() {
                    return if all { "No leases.\n".to_owned() } else { "No active leases.\n".to_owned() };
                }
                let mut t = Table::new(["ID", "SCOPE", "HOLDER", "STATUS", "EXPIRES"]).keep_whole(0);
                for l in &leases {
                    t.row([
                        l.id.clone(),
                        l.scope.clone(),
                        l.agent_id.clone(),
                        l.status.as_ref().map(ToString::to_string).unwrap_or_default(),
                        time(&l.expires_at),
                    ]);
                }
                t.render()
            })
        }
        LeasesCommand::Acquire { id, scope, duration } => {
            let lease = client.acquire_lease(&id, scope).duration_seconds(duration).send().await?;
            out.show(&lease, || format!("Acquired lease {}\n{}", lease.id, lease_fields(&lease)))
        }
        LeasesCommand::Renew { id, lease_id, duration } => {
            let lease = client.renew_lease(&id, &lease_id).duration_seconds(duration).send().await?;
            out.show(&lease, || format!("Renewed lease {}\n{}", lease.id, lease_fields(&lease)))
        }
        LeasesCommand::Release { id, lease_id } => {
            client.release_lease(&id, &lease_id).await?;
            let ack = json!({ "released": true, "intent_id": id, "lease_id": lease_id });
            out.show(&ack, || format!("Released lease {lease_id}\n"))
        }
    }
}

fn lease_fields(l: &Lease) -> String {
    let mut f = Fields::new();
    f.add("intent", l.intent_id.clone())
        .add("scope", l.scope.clone())
        .add("holder", l.agent_id.clone())
        .add("status", l.status.as_ref().map(ToString::to_string).unwrap_or_default())
        .add("acquired", time(&l.acquired_at))
        .add("expires", time(&l.expires_at));
    f.render()
}

// ----- costs -----

/// `openintent costs ...`
pub async fn costs(client: &Client, out: Out, cmd: CostsCommand) -> Res {
    match cmd {
        CostsCommand::List { id } => {
            let records = client.get_costs(&id).await?;
            let totals = UnitTotals::of(&records);
            let body = json!({ "costs": records, "count": records.len(), "totals": totals });
            out.show(&body, || cost_text(&records, &totals))
        }
        CostsCommand::Record { id, cost_type, amount: value, unit, provider, metadata } => {
            let mut b = client.record_cost(&id, cost_type, value, unit);
            if let Some(p) = provider {
                b = b.provider(p);
            }
            if let Some(m) = metadata {
                b = b.metadata(Value::Object(json_object("--metadata", &m)?));
            }
            let c = b.send().await?;
            out.show(&c, || {
                format!(
                    "Recorded {} {} of {} on intent {} ({})\n",
                    amount(c.amount),
                    c.unit,
                    c.cost_type,
                    c.intent_id,
                    c.id
                )
            })
        }
    }
}

/// The sums of the cost records of one unit: amounts of different units are never added.
#[derive(Debug, Default, Serialize)]
struct UnitTotals {
    /// Sum of the amounts.
    total: f64,
    /// Number of records.
    count: u64,
    /// Sum per cost type.
    by_type: BTreeMap<String, f64>,
    /// Sum per agent.
    by_agent: BTreeMap<String, f64>,
}

impl UnitTotals {
    /// The totals of `records`, per unit.
    fn of(records: &[CostRecord]) -> BTreeMap<String, UnitTotals> {
        let mut units: BTreeMap<String, UnitTotals> = BTreeMap::new();
        for r in records {
            let u = units.entry(r.unit.clone()).or_default();
            u.total += r.amount;
            u.count += 1;
            *u.by_type.entry(r.cost_type.clone()).or_default() += r.amount;
            *u.by_agent.entry(r.agent_id.clone()).or_default() += r.amount;
        }
        units
    }
}

fn cost_text(records: &[CostRecord], totals: &BTreeMap<String, UnitTotals>) -> String {
    if records.is_empty() {
        return "No costs recorded.\n".to_owned();
    }
    let mut t = Table::new(["TIME", "TYPE", "AMOUNT", "UNIT", "PROVIDER", "AGENT"]);
    for c in records {
        t.row([
            time(&c.recorded_at),
            c.cost_type.clone(),
            amount(c.amount),
            c.unit.clone(),
            c.provider.clone().unwrap_or_default(),
            c.agent_id.clone(),
        ]);
    }
    let mut s = t.render();
    s.push('\n');
    // Every sum is of one unit and says which.
    let per_unit = |sums: &dyn Fn(&UnitTotals) -> &BTreeMap<String, f64>| -> String {
        let mut parts = Vec::new();
        for (unit, u) in totals {
            parts.extend(sums(u).iter().map(|(k, v)| format!("{k} {} {unit}", amount(*v))));
        }
        parts.join(", ")
    };
    let mut f = Fields::new();
    f.add("records", records.len().to_string());
    let total: Vec<String> = totals.iter().map(|(unit, u)| format!("{} {unit}", amount(u.total))).collect();
    f.add("total", total.join(", "));
    f.add("by type", per_unit(&|u| &u.by_type));
    f.add("by agent", per_unit(&|u| &u.by_agent));
    s.push_str(&f.render());
    s
}

// ----- portfolios -----

/// `openintent portfolios ...`
pub async fn portfolios(client: &Client, out: Out, cmd: PortfoliosCommand) -> Res {
    match cmd {
        PortfoliosCommand::Create { name, description, governance_policy } => {
            let mut b = client.create_portfolio(name);
            if let Some(d) = description {
                b = b.description(d);
            }
            if let Some(p) = governance_policy {
                b = b.governance_policy(Value::Object(json_object("--governance-policy", &p)?));
            }
            let p = b.send().await?;
            out.show(&p, || format!("Created portfolio {}\n{}", p.id, portfolio_fields(&p)))
        }
        PortfoliosCommand::Get { id } => {
            let p = client.get_portfolio(&id).await?;
            out.show(&p, || {
                let mut s = portfolio_fields(&p);
                if let Some(intents) = p.intents.as_ref().filter(|i| !i.is_empty()) {
                    s.push('\n');
                    let mut t = Table::new(["INTENT", "TITLE", "STATUS", "VERSION"]).keep_whole(0);
                    for i in intents {
                        t.row([i.id.clone(), i.title.clone(), i.status.to_string(), i.version.to_string()]);
                    }
                    s.push_str(&t.render());
                }
                s
            })
        }
        PortfoliosCommand::List { created_by } => {
            let mut b = client.list_portfolios();
            if let Some(c) = created_by {
                b = b.created_by(c);
            }
            let list = b.send().await?;
            out.show(&list, || {
                if list.is_empty() {
                    return "No portfolios.\n".to_owned();
                }
                let mut t = Table::new(["ID", "NAME", "STATUS", "CREATED BY", "CREATED"]).keep_whole(0);
                for p in &list {
                    t.row([
                        p.id.clone(),
                        p.name.clone(),
                        p.status.to_string(),
                        p.created_by.clone(),
                        time(&p.created_at),
                    ]);
                }
                t.render()
            })
        }
        PortfoliosCommand::Add { portfolio_id, intent_id, role, priority } => {
            let mut b = client.add_intent_to_portfolio(&portfolio_id, intent_id);
            if let Some(r) = role {
                b = b.role(r);
            }
            if let Some(p) = priority {
                b = b.priority(p);
            }
            let m = b.send().await?;
            out.show(&m, || {
                format!(
                    "Added intent {} to portfolio {} (role {}, priority {})\n",
                    m.intent_id.as_deref().unwrap_or("?"),
                    m.portfolio_id.as_deref().unwrap_or("?"),
                    m.role.as_ref().map(ToString::to_string).unwrap_or_else(|| "member".to_owned()),
                    m.priority.unwrap_or(0)
                )
            })
        }
    }
}

fn portfolio_fields(p: &Portfolio) -> String {
    let mut f = Fields::new();
    f.add("id", p.id.clone())
        .add("name", p.name.clone())
        .add_nonempty("description", p.description.clone())
        .add("status", p.status.to_string())
        .add_nonempty("created by", p.created_by.clone());
    if !p.governance_policy.is_empty() {
        f.add("policy", compact(&p.governance_policy));
    }
    if let Some(a) = &p.aggregate_status {
        let by: Vec<String> = a.by_status.iter().map(|(k, v)| format!("{k} {v}")).collect();
        f.add("progress", format!("{}% of {} intents completed", a.completion_percentage, a.total));
        f.add_nonempty("by status", by.join(", "));
    }
    f.add("created", time(&p.created_at));
    f.render()
}

// ----- discovery -----

/// `openintent discover`
pub async fn discover(client: &Client, out: Out) -> Res {
    let d = client.discover().await?;
    out.show(&d, || {
        let mut f = Fields::new();
        f.add("protocol", d.protocol.clone())
            .add("version", d.version.clone())
            .add("capabilities", d.capabilities.join(", "))
            .add_nonempty("openapi", d.openapi_url.clone().unwrap_or_default());
        f.render()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values_parse_json_or_fall_back_to_text() {
        assert_eq!(key_value("progress=0.5").unwrap(), ("progress".to_owned(), json!(0.5)));
        assert_eq!(key_value("phase=analysis").unwrap(), ("phase".to_owned(), json!("analysis")));
        assert_eq!(key_value("tags=[\"a\"]").unwrap(), ("tags".to_owned(), json!(["a"])));
        assert_eq!(key_value("note=a=b").unwrap(), ("note".to_owned(), json!("a=b")));
        assert!(matches!(key_value("novalue"), Err(CliError::Usage(_))));
        assert!(matches!(key_value("=1"), Err(CliError::Usage(_))));
    }

    #[test]
    fn json_objects_are_checked() {
        assert_eq!(json_object("--x", r#"{"a":1}"#).unwrap()["a"], 1);
        let Err(CliError::Usage(m)) = json_object("--constraints", "[1]") else { panic!() };
        assert!(m.contains("--constraints must be a JSON object"));
        let Err(CliError::Usage(m)) = json_object("--state", "{oops") else { panic!() };
        assert!(m.contains("--state is not valid JSON"));
    }
}
