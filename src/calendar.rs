//! The user's local calendar: which day and month a moment belongs to, in the budget's
//! time zone (DST-correct through jiff).
//!
//! Must not import other CodeForge modules.

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// A local day and its month, as stored in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalDay {
    /// `YYYY-MM-DD`
    pub day: String,
    /// `YYYY-MM`
    pub month: String,
}

/// The time zone for budgets: a configured IANA name, or the system's.
pub fn time_zone(name: Option<&str>) -> Result<TimeZone, String> {
    match name {
        Some(n) => TimeZone::get(n).map_err(|e| format!("unknown time zone `{n}`: {e}")),
        None => Ok(local_zone().unwrap_or_else(TimeZone::system)),
    }
}

/// The system's zone read straight from `/etc/localtime` (named after the file it links
/// to), without jiff's search of every zoneinfo directory for its name: 22 directories
/// read at every start for nothing. `TZ`, when set, is left to jiff.
fn local_zone() -> Option<TimeZone> {
    if std::env::var_os("TZ").is_some() {
        return None;
    }
    let path = std::path::Path::new("/etc/localtime");
    let bytes = std::fs::read(path).ok()?;
    let name = std::fs::read_link(path)
        .ok()
        .and_then(|target| {
            target
                .to_str()
                .and_then(|t| t.split_once("zoneinfo/"))
                .map(|(_, n)| n.to_string())
        })
        .unwrap_or_else(|| "Local".to_string());
    TimeZone::tzif(&name, &bytes).ok()
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    Timestamp::now().as_millisecond()
}

/// The UTC day, ISO week and month of a moment (`YYYY-MM-DD`, `YYYY-Www`, `YYYY-MM`):
/// the periods OpenRouter's key limits reset on (midnight UTC, weeks from Monday).
pub fn utc_periods(ms: i64) -> [String; 3] {
    let ts = Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH);
    let date = ts.to_zoned_datetime(TimeZone::UTC).date();
    let week = date.iso_week_date();
    [
        format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day()),
        format!("{:04}-W{:02}", week.year(), week.week()),
        format!("{:04}-{:02}", date.year(), date.month()),
    ]
}

/// The local day of a moment.
pub fn local_day(ms: i64, tz: &TimeZone) -> LocalDay {
    let ts = Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH);
    let date = ts.to_zoned_datetime(tz.clone()).date();
    LocalDay {
        day: format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day()),
        month: format!("{:04}-{:02}", date.year(), date.month()),
    }
}

/// `YYYY-MM-DD HH:MM` of a moment in `tz` (for lists of past conversations).
pub fn local_minute(ms: i64, tz: &TimeZone) -> String {
    let ts = Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH);
    let dt = ts.to_zoned_datetime(tz.clone()).datetime();
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute()
    )
}

/// The last `n` local days ending with the day of `ms`, oldest first.
pub fn last_days(ms: i64, n: usize, tz: &TimeZone) -> Vec<String> {
    let ts = Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH);
    let mut date = ts.to_zoned_datetime(tz.clone()).date();
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(format!(
            "{:04}-{:02}-{:02}",
            date.year(),
            date.month(),
            date.day()
        ));
        match date.yesterday() {
            Ok(d) => date = d,
            Err(_) => break,
        }
    }
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_zone_is_the_one_etc_localtime_names() {
        let Ok(target) = std::fs::read_link("/etc/localtime") else {
            return; // no link to compare with on this system
        };
        let name = target
            .to_string_lossy()
            .split_once("zoneinfo/")
            .map(|(_, n)| n.to_string());
        if let (Some(name), None) = (name, std::env::var_os("TZ")) {
            let local = time_zone(None).unwrap();
            assert_eq!(local.iana_name(), Some(name.as_str()));
            // The same offsets as jiff's own reading of it.
            let now = Timestamp::now();
            assert_eq!(
                local.to_offset(now),
                TimeZone::get(&name).unwrap().to_offset(now)
            );
        }
    }

    #[test]
    fn utc_periods_follow_midnight_utc_and_monday_weeks() {
        // 2026-11-29 is a Sunday, 2026-11-30 a Monday (ISO week 49).
        let sunday_late = 1_795_996_799_000; // 2026-11-29 23:59:59 UTC
        let monday = sunday_late + 1000;
        assert_eq!(
            utc_periods(sunday_late),
            [
                "2026-11-29".to_string(),
                "2026-W48".into(),
                "2026-11".into()
            ]
        );
        assert_eq!(
            utc_periods(monday),
            [
                "2026-11-30".to_string(),
                "2026-W49".into(),
                "2026-11".into()
            ]
        );
    }

    #[test]
    fn the_local_day_follows_the_zone() {
        // 2026-11-26 23:30 UTC is already the 27th in Berlin, still the 26th in New York.
        let ms = 1_795_735_800_000;
        let berlin = time_zone(Some("Europe/Berlin")).unwrap();
        let ny = time_zone(Some("America/New_York")).unwrap();
        assert_eq!(local_day(ms, &TimeZone::UTC).day, "2026-11-26");
        assert_eq!(local_day(ms, &berlin).day, "2026-11-27");
        assert_eq!(local_day(ms, &ny).day, "2026-11-26");
        assert_eq!(local_day(ms, &berlin).month, "2026-11");
        assert!(time_zone(Some("Mars/Olympus")).is_err());
    }

    #[test]
    fn last_days_cross_month_ends() {
        let ms = 1_793_577_600_000; // 2026-11-02 00:00 UTC
        assert_eq!(
            last_days(ms, 3, &TimeZone::UTC),
            ["2026-10-31", "2026-11-01", "2026-11-02"]
        );
    }
}
