//! Quality rules of a commodity (what an inspection measures, and which results make which
//! grade), checked when an admin sets them, and the grade that follows from an inspection's
//! results. Pure: the service reads and writes the rows.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The most parameters a commodity measures, and the most grade rules it has.
pub const MAX_PARAMETERS: usize = 20;
pub const MAX_GRADES: usize = 10;

/// One measured quantity and the values it can possibly take.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parameter {
    pub name: String,
    pub unit: String,
    pub min: Decimal,
    pub max: Decimal,
}

/// Bounds a result must lie within (inclusive); a missing bound is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    pub min: Option<Decimal>,
    pub max: Option<Decimal>,
}

impl Range {
    pub fn holds(&self, value: Decimal) -> bool {
        self.min.is_none_or(|min| value >= min) && self.max.is_none_or(|max| value <= max)
    }
}

/// The results that make a grade: every named parameter within its range (a parameter not
/// named may take any value).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GradeRule {
    pub grade: String,
    pub ranges: BTreeMap<String, Range>,
}

/// A commodity's rules, as stored in one version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    pub parameters: Vec<Parameter>,
    pub grades: Vec<GradeRule>,
}

/// A rule that cannot stand, with the field (as the request spells it) that breaks it.
#[derive(Debug, PartialEq, Eq)]
pub struct Fault {
    pub field: String,
    pub message: String,
}

fn fault(field: impl Into<String>, message: impl Into<String>) -> Fault {
    Fault {
        field: field.into(),
        message: message.into(),
    }
}

/// A parameter's name: lower-case letters, digits and underscores, starting with a letter.
fn valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    (1..=32).contains(&name.len())
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Checks rules against the commodity's grades (`grade → value factor`): parameter names valid
/// and unique, units named, `min < max`; each rule for a grade the commodity has, once; each
/// range over a declared parameter, inside its possible values, `min ≤ max`.
pub fn check(rules: &Rules, commodity_grades: &BTreeMap<String, Decimal>) -> Result<(), Fault> {
    if rules.parameters.is_empty() || rules.parameters.len() > MAX_PARAMETERS {
        return Err(fault(
            "parameters",
            format!("declare 1 to {MAX_PARAMETERS} parameters"),
        ));
    }
    let mut names = BTreeSet::new();
    for (i, p) in rules.parameters.iter().enumerate() {
        if !valid_name(&p.name) {
            return Err(fault(
                format!("parameters[{i}].name"),
                "a parameter's name is 1 to 32 lower-case letters, digits or underscores, starting with a letter",
            ));
        }
        if !names.insert(p.name.as_str()) {
            return Err(fault(
                format!("parameters[{i}].name"),
                format!("`{}` is declared twice", p.name),
            ));
        }
        let unit = p.unit.trim();
        if unit.is_empty() || unit.chars().count() > 16 || unit != p.unit {
            return Err(fault(
                format!("parameters[{i}].unit"),
                "a unit is 1 to 16 characters without surrounding spaces",
            ));
        }
        if p.min >= p.max {
            return Err(fault(
                format!("parameters[{i}].max"),
                "max must be above min",
            ));
        }
    }
    if rules.grades.is_empty() || rules.grades.len() > MAX_GRADES {
        return Err(fault(
            "grades",
            format!("give rules for 1 to {MAX_GRADES} grades"),
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, rule) in rules.grades.iter().enumerate() {
        if !commodity_grades.contains_key(&rule.grade) {
            return Err(fault(
                format!("grades[{i}].grade"),
                format!("the commodity has no grade `{}`", rule.grade),
            ));
        }
        if !seen.insert(rule.grade.as_str()) {
            return Err(fault(
                format!("grades[{i}].grade"),
                format!("grade `{}` has two rules", rule.grade),
            ));
        }
        for (name, range) in &rule.ranges {
            let field = format!("grades[{i}].ranges.{name}");
            let Some(p) = rules.parameters.iter().find(|p| &p.name == name) else {
                return Err(fault(field, format!("no parameter is named `{name}`")));
            };
            if range.min.is_none() && range.max.is_none() {
                return Err(fault(field, "a range needs a min, a max or both"));
            }
            let inside = |v: Option<Decimal>| v.is_none_or(|v| v >= p.min && v <= p.max);
            if !inside(range.min) || !inside(range.max) {
                return Err(fault(
                    field,
                    format!("a range lies within the parameter's {} to {}", p.min, p.max),
                ));
            }
            if let (Some(min), Some(max)) = (range.min, range.max)
                && min > max
            {
                return Err(fault(field, "min must not be above max"));
            }
        }
    }
    Ok(())
}

/// A result that cannot be graded, with the field that is wrong.
pub type ResultFault = Fault;

/// The grade the results make: every declared parameter measured (and nothing else), each
/// within its possible values; then the best grade (highest value factor) whose rule the
/// results meet, or the commodity's lowest grade when they meet none.
pub fn grade_of(
    rules: &Rules,
    commodity_grades: &BTreeMap<String, Decimal>,
    results: &BTreeMap<String, Decimal>,
) -> Result<String, ResultFault> {
    for name in results.keys() {
        if !rules.parameters.iter().any(|p| &p.name == name) {
            let known: Vec<&str> = rules.parameters.iter().map(|p| p.name.as_str()).collect();
            return Err(fault(
                format!("results.{name}"),
                format!(
                    "no parameter is named `{name}`; this commodity measures {}",
                    known.join(", ")
                ),
            ));
        }
    }
    for p in &rules.parameters {
        let Some(value) = results.get(&p.name) else {
            return Err(fault(
                format!("results.{}", p.name),
                format!("`{}` ({}) was not measured", p.name, p.unit),
            ));
        };
        if *value < p.min || *value > p.max {
            return Err(fault(
                format!("results.{}", p.name),
                format!("`{}` can only be {} to {} {}", p.name, p.min, p.max, p.unit),
            ));
        }
    }
    let mut ranked: Vec<(&String, &Decimal)> = commodity_grades.iter().collect();
    // Best first; equal factors by name, so the order never depends on the map.
    ranked.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    for (grade, _) in &ranked {
        let Some(rule) = rules.grades.iter().find(|r| &r.grade == *grade) else {
            continue;
        };
        let met = rule
            .ranges
            .iter()
            .all(|(name, range)| results.get(name).is_some_and(|v| range.holds(*v)));
        if met {
            return Ok((*grade).clone());
        }
    }
    Ok(ranked
        .last()
        .map(|(grade, _)| (*grade).clone())
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn grades() -> BTreeMap<String, Decimal> {
        [("A", "1.00"), ("B", "0.85"), ("C", "0.60")]
            .into_iter()
            .map(|(g, f)| (g.to_owned(), d(f)))
            .collect()
    }

    fn range(min: Option<&str>, max: Option<&str>) -> Range {
        Range {
            min: min.map(d),
            max: max.map(d),
        }
    }

    /// The apple rules of the demo: firmness, sugar, defects.
    fn apples() -> Rules {
        let p = |name: &str, unit: &str, min: &str, max: &str| Parameter {
            name: name.into(),
            unit: unit.into(),
            min: d(min),
            max: d(max),
        };
        Rules {
            parameters: vec![
                p("firmness_kgf", "kgf", "0", "20"),
                p("brix", "°Brix", "0", "30"),
                p("defects_pct", "%", "0", "100"),
            ],
            grades: vec![
                GradeRule {
                    grade: "A".into(),
                    ranges: [
                        ("firmness_kgf".into(), range(Some("7"), None)),
                        ("brix".into(), range(Some("13"), None)),
                        ("defects_pct".into(), range(None, Some("3"))),
                    ]
                    .into(),
                },
                GradeRule {
                    grade: "B".into(),
                    ranges: [
                        ("firmness_kgf".into(), range(Some("6"), None)),
                        ("defects_pct".into(), range(None, Some("8"))),
                    ]
                    .into(),
                },
            ],
        }
    }

    fn results(firmness: &str, brix: &str, defects: &str) -> BTreeMap<String, Decimal> {
        [
            ("firmness_kgf".to_owned(), d(firmness)),
            ("brix".to_owned(), d(brix)),
            ("defects_pct".to_owned(), d(defects)),
        ]
        .into()
    }

    #[test]
    fn the_best_grade_whose_rule_the_results_meet() {
        let rules = apples();
        assert_eq!(check(&rules, &grades()), Ok(()));
        assert_eq!(
            grade_of(&rules, &grades(), &results("7.5", "14", "2")).unwrap(),
            "A"
        );
        // Soft fruit, too many defects for A: B.
        assert_eq!(
            grade_of(&rules, &grades(), &results("6.5", "14", "5")).unwrap(),
            "B"
        );
        // Bounds are inclusive.
        assert_eq!(
            grade_of(&rules, &grades(), &results("7", "13", "3")).unwrap(),
            "A"
        );
    }

    #[test]
    fn results_outside_every_rule_make_the_lowest_grade() {
        assert_eq!(
            grade_of(&apples(), &grades(), &results("4", "10", "20")).unwrap(),
            "C"
        );
    }

    #[test]
    fn a_result_outside_what_the_parameter_can_be_is_refused_naming_it() {
        let refused = grade_of(&apples(), &grades(), &results("25", "14", "2")).unwrap_err();
        assert_eq!(refused.field, "results.firmness_kgf");
        let refused = grade_of(&apples(), &grades(), &results("7", "14", "-1")).unwrap_err();
        assert_eq!(refused.field, "results.defects_pct");
    }

    #[test]
    fn an_unknown_or_missing_parameter_is_refused_naming_it() {
        let mut wrong = results("7", "14", "2");
        wrong.insert("colour".into(), d("3"));
        let refused = grade_of(&apples(), &grades(), &wrong).unwrap_err();
        assert_eq!(refused.field, "results.colour");
        assert!(refused.message.contains("firmness_kgf"));
        let mut missing = results("7", "14", "2");
        missing.remove("brix");
        assert_eq!(
            grade_of(&apples(), &grades(), &missing).unwrap_err().field,
            "results.brix"
        );
    }

    #[test]
    fn rules_that_cannot_stand_are_refused_naming_the_field() {
        let mut rules = apples();
        rules.parameters[1].name = "Brix".into();
        assert_eq!(
            check(&rules, &grades()).unwrap_err().field,
            "parameters[1].name"
        );

        let mut rules = apples();
        rules.parameters[2].name = "brix".into();
        assert_eq!(
            check(&rules, &grades()).unwrap_err().field,
            "parameters[2].name"
        );

        let mut rules = apples();
        rules.parameters[0].max = d("0");
        assert_eq!(
            check(&rules, &grades()).unwrap_err().field,
            "parameters[0].max"
        );

        let mut rules = apples();
        rules.grades[1].grade = "D".into();
        assert_eq!(
            check(&rules, &grades()).unwrap_err().field,
            "grades[1].grade"
        );

        let mut rules = apples();
        rules.grades[1].grade = "A".into();
        assert_eq!(
            check(&rules, &grades()).unwrap_err().field,
            "grades[1].grade"
        );

        let mut rules = apples();
        rules.grades[0]
            .ranges
            .insert("colour".into(), range(Some("1"), None));
        assert_eq!(
            check(&rules, &grades()).unwrap_err().field,
            "grades[0].ranges.colour"
        );

        let mut rules = apples();
        rules.grades[0]
            .ranges
            .insert("brix".into(), range(Some("13"), Some("31")));
        assert_eq!(
            check(&rules, &grades()).unwrap_err().field,
            "grades[0].ranges.brix"
        );

        let mut rules = apples();
        rules.grades[0]
            .ranges
            .insert("brix".into(), range(Some("15"), Some("14")));
        assert_eq!(
            check(&rules, &grades()).unwrap_err().field,
            "grades[0].ranges.brix"
        );

        let mut rules = apples();
        rules.parameters.clear();
        assert_eq!(check(&rules, &grades()).unwrap_err().field, "parameters");
    }

    proptest! {
        /// Whatever is measured within the possible values, a grade of the commodity results,
        /// and better fruit never grades lower.
        #[test]
        fn grading_is_total_and_monotone(f in 0u32..=200, b in 0u32..=300, x in 0u32..=1000, up in 0u32..=20) {
            let rules = apples();
            let factor = |g: &str| grades()[g];
            let at = |f: u32, b: u32, x: u32| {
                [("firmness_kgf".to_owned(), Decimal::new(f.into(), 1)),
                 ("brix".to_owned(), Decimal::new(b.into(), 1)),
                 ("defects_pct".to_owned(), Decimal::new(x.into(), 1))].into()
            };
            let grade = grade_of(&rules, &grades(), &at(f, b, x)).unwrap();
            prop_assert!(grades().contains_key(&grade));
            let better = grade_of(&rules, &grades(), &at((f + up).min(200), (b + up).min(300), x.saturating_sub(up))).unwrap();
            prop_assert!(factor(&better) >= factor(&grade));
        }
    }
}
