//! How the state enums of `domain::states` are stored: as the text they print, in `text`
//! columns. Text the enum does not know fails the row's load (the columns' CHECK constraints
//! keep such text out).

macro_rules! maps_to_text {
    ($name:ty) => {
        impl diesel::serialize::ToSql<diesel::sql_types::Text, diesel::pg::Pg> for $name {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, diesel::pg::Pg>,
            ) -> diesel::serialize::Result {
                use std::io::Write;
                out.write_all(self.as_str().as_bytes())?;
                Ok(diesel::serialize::IsNull::No)
            }
        }

        impl diesel::deserialize::FromSql<diesel::sql_types::Text, diesel::pg::Pg> for $name {
            fn from_sql(value: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
                let text = std::str::from_utf8(value.as_bytes())?;
                <$name>::parse(text)
                    .ok_or_else(|| format!("`{text}` is not a {}", stringify!($name)).into())
            }
        }
    };
}

pub(crate) use maps_to_text;
