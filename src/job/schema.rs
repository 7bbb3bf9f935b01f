//! The JSON schema of a job input ([`input_schema`]), generated from [`JobInput`] and its
//! [`Knobs`](super::Knobs) so that the committed `schemas/job_input.schema.json` cannot drift
//! from the parser; a unit test fails when the two differ.

use schemars::Schema;
use schemars::generate::SchemaSettings;
use schemars::transform::RecursiveTransform;

use super::JobInput;

/// The schema as `schemas/job_input.schema.json` holds it, pretty JSON ending in a newline.
pub fn input_schema() -> String {
    let generator = SchemaSettings::draft2020_12()
        .with_transform(RecursiveTransform(tidy))
        .into_generator();
    let schema = generator.into_root_schema_for::<JobInput>();
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema is plain JSON");
    text.push('\n');
    text
}

/// The fields a job input may have, in the schema's (alphabetical) order.
pub(crate) fn input_fields() -> Vec<String> {
    let schema = SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<JobInput>();
    schema
        .get("properties")
        .and_then(serde_json::Value::as_object)
        .map(|properties| properties.keys().cloned().collect())
        .unwrap_or_default()
}

/// An optional field is one that may be left out, not one that may be `null`: the schema
/// stays as strict as the inputs we document (serde would take `null` as absent). And a
/// description reads as one line.
fn tidy(schema: &mut Schema) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    // Doc comments wrap at 100 columns; a description is one line of prose.
    if let Some(serde_json::Value::String(text)) = object.get_mut("description") {
        *text = text.replace('\n', " ");
    }
    if let Some(serde_json::Value::Array(types)) = object.get_mut("type") {
        types.retain(|t| t != "null");
        if let [only] = types.as_slice() {
            let only = only.clone();
            object.insert("type".into(), only);
        }
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(serde_json::Value::Array(choices)) = object.get_mut(key) {
            choices.retain(|c| c.get("type").is_none_or(|t| t != "null"));
            if let [only] = choices.as_slice()
                && let Some(only) = only.as_object().cloned()
            {
                object.remove(key);
                object.extend(only);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// `summary` (the hand-written `schemas/summary.schema.json`) with every `framework` enum
    /// listing [`Framework::ALL`](crate::job::Framework::ALL)'s names, so that a new framework's name
    /// reaches the output schema without an edit there. The rest of the text is left as it is.
    fn with_framework_names(summary: &str) -> String {
        let names: Vec<String> = crate::job::Framework::ALL
            .iter()
            .map(|f| format!("\"{}\"", f.name()))
            .collect();
        let mut out = String::with_capacity(summary.len());
        let mut lines = summary.lines().peekable();
        let mut in_framework = false;
        while let Some(line) = lines.next() {
            out.push_str(line);
            out.push('\n');
            let trimmed = line.trim();
            if trimmed == "\"framework\": {" {
                in_framework = true;
            } else if in_framework && trimmed == "\"enum\": [" {
                let indent = &line[..line.len() - line.trim_start().len()];
                while lines
                    .next_if(|l| l.trim() != "]" && l.trim() != "],")
                    .is_some()
                {}
                out.push_str(&format!(
                    "{indent}  {}\n",
                    names.join(&format!(",\n{indent}  "))
                ));
                in_framework = false;
            } else if trimmed.starts_with('}') {
                in_framework = false;
            }
        }
        out
    }

    /// Set to write the generated schema over the committed one instead of comparing them.
    const WRITE: &str = "FLAKY_WRITE_SCHEMAS";

    #[test]
    fn the_committed_input_schema_is_the_generated_one() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/job_input.schema.json");
        let generated = input_schema();
        if std::env::var_os(WRITE).is_some() {
            std::fs::write(&path, &generated).expect("the schema file is writable");
        }
        let committed = std::fs::read_to_string(&path).expect("the schema file is readable");
        assert!(
            committed == generated,
            "schemas/job_input.schema.json differs from the JobInput type; regenerate it with \
             `{WRITE}=1 cargo test --lib job::schema` and commit the result"
        );
    }

    #[test]
    fn the_output_schema_names_every_framework() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/summary.schema.json");
        if std::env::var_os(WRITE).is_some() {
            let old = std::fs::read_to_string(&path).expect("the schema file is readable");
            std::fs::write(&path, with_framework_names(&old)).expect("the schema file is writable");
        }
        let committed = std::fs::read_to_string(&path).expect("the schema file is readable");
        let generated = with_framework_names(&committed);
        assert!(
            committed == generated,
            "schemas/summary.schema.json's framework enums differ from Framework::ALL; \
             regenerate them with `{WRITE}=1 cargo test --lib job::schema` and commit the result"
        );
        assert_eq!(committed.matches("\"framework\": {").count(), 2);
    }

    #[test]
    fn the_framework_enums_are_rewritten_and_nothing_else() {
        let schema = "{\n  \"framework\": {\n    \"type\": \"string\",\n    \"enum\": [\n      \"old\"\n    ]\n  },\n  \"x\": {\n    \"enum\": [\n      \"kept\"\n    ]\n  }\n}\n";
        let rewritten = with_framework_names(schema);
        let value: serde_json::Value = serde_json::from_str(&rewritten).expect("still JSON");
        let names: Vec<&str> = value["framework"]["enum"]
            .as_array()
            .expect("an enum")
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        let all: Vec<&str> = crate::job::Framework::ALL
            .iter()
            .map(|f| f.name())
            .collect();
        assert_eq!(names, all);
        assert_eq!(value["x"]["enum"][0], "kept");
    }
}
