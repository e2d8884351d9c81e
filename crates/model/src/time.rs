//! Timestamp formats of the two API dialects, defined once.
//!
//! The HAL API writes instants as UTC wall-clock time without an offset and with microseconds
//! (`2026-01-11T18:58:35.961074`), as its documents show; its error bodies carry milliseconds and
//! an explicit `+00:00` offset.

use chrono::format::{DelayedFormat, Fixed, Item, Numeric, Pad};
use chrono::{DateTime, NaiveDateTime, Utc};
use std::slice::Iter;

// The formats as chrono's items, so that formatting does not parse a strftime string each time
// (it was a sixth of a key list's time).

/// `%Y-%m-%dT%H:%M:%S`.
macro_rules! date_and_time {
    ($($rest:expr),*) => {
        [
            Item::Numeric(Numeric::Year, Pad::Zero),
            Item::Literal("-"),
            Item::Numeric(Numeric::Month, Pad::Zero),
            Item::Literal("-"),
            Item::Numeric(Numeric::Day, Pad::Zero),
            Item::Literal("T"),
            Item::Numeric(Numeric::Hour, Pad::Zero),
            Item::Literal(":"),
            Item::Numeric(Numeric::Minute, Pad::Zero),
            Item::Literal(":"),
            Item::Numeric(Numeric::Second, Pad::Zero),
            $($rest),*
        ]
    };
}

const RESOURCE: &[Item<'static>] = &date_and_time!(Item::Fixed(Fixed::Nanosecond6));
const ERROR: &[Item<'static>] = &date_and_time!(Item::Fixed(Fixed::Nanosecond3), Item::Literal("+00:00"));
const INSTANT: &[Item<'static>] = &date_and_time!(Item::Fixed(Fixed::Nanosecond3), Item::Literal("Z"));

type Formatted = DelayedFormat<Iter<'static, Item<'static>>>;

/// `2026-01-11T18:58:35.961074`: UTC, no offset, microseconds.
pub fn format_resource(instant: &DateTime<Utc>) -> String {
    resource_display(instant).to_string()
}

fn resource_display(instant: &DateTime<Utc>) -> Formatted {
    instant.format_with_items(RESOURCE.iter())
}

/// `2026-04-23T13:17:02.940+00:00`: the error body's timestamp.
pub fn format_error(instant: &DateTime<Utc>) -> String {
    instant.format_with_items(ERROR.iter()).to_string()
}

/// `2026-03-03T12:00:00.000Z`: the key API's instants, RFC 3339 UTC with milliseconds.
pub fn format_instant(instant: &DateTime<Utc>) -> String {
    instant_display(instant).to_string()
}

fn instant_display(instant: &DateTime<Utc>) -> Formatted {
    instant.format_with_items(INSTANT.iter())
}

/// Reads a resource timestamp with any number of fractional digits (the documents show six to
/// nine), taken as UTC.
pub fn parse_resource(text: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").map(|naive| naive.and_utc())
}

/// Serde adapter for resource timestamps: `#[serde(with = "keyward_model::time::resource")]`.
pub mod resource {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(instant: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&super::resource_display(instant))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::parse_resource(&text).map_err(serde::de::Error::custom)
    }
}

/// Serde adapter for the key API's instants: `#[serde(with = "keyward_model::time::instant")]`.
pub mod instant {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(instant: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&super::instant_display(instant))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(deserializer)?;
        DateTime::parse_from_rfc3339(&text).map(|t| t.to_utc()).map_err(serde::de::Error::custom)
    }
}

/// [`instant`] for optional fields.
pub mod instant_option {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        instant: &Option<DateTime<Utc>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match instant {
            Some(instant) => super::instant::serialize(instant, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?;
        text.map(|text| {
            DateTime::parse_from_rfc3339(&text).map(|t| t.to_utc()).map_err(serde::de::Error::custom)
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn resource_timestamps_round_trip_in_the_documented_form() {
        let instant =
            Utc.with_ymd_and_hms(2026, 1, 11, 18, 58, 35).unwrap() + chrono::Duration::microseconds(961_074);
        assert_eq!(format_resource(&instant), "2026-01-11T18:58:35.961074");
        assert_eq!(parse_resource("2026-01-11T18:58:35.961074").unwrap(), instant);
        // Nine and eight fractional digits, as in the documents, parse too.
        assert!(parse_resource("2026-01-11T18:58:35.961073921").is_ok());
        assert!(parse_resource("2026-04-23T13:17:02.40686557").is_ok());
    }

    #[test]
    fn key_api_instants_are_rfc3339_millis_z() {
        let instant = Utc.with_ymd_and_hms(2026, 3, 3, 12, 0, 0).unwrap();
        assert_eq!(format_instant(&instant), "2026-03-03T12:00:00.000Z");
    }

    #[test]
    fn error_timestamps_carry_millis_and_offset() {
        let instant =
            Utc.with_ymd_and_hms(2026, 4, 23, 13, 17, 2).unwrap() + chrono::Duration::milliseconds(940);
        assert_eq!(format_error(&instant), "2026-04-23T13:17:02.940+00:00");
    }
}
