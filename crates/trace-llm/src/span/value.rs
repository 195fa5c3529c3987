//! Conversions of user values to attribute values, taken by reference so that evaluating an
//! attribute never moves a function argument.

use std::borrow::Cow;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::{Array, StringValue, Value};

/// A value that can be recorded as a span attribute: strings, integers, floats, booleans,
/// `Duration` (seconds, as a double), slices and vectors of those (array attributes), and
/// `Option`s of any of them (`None` records nothing).
///
/// ```
/// use trace_llm::AttributeValue;
/// use opentelemetry::{Array, StringValue, Value};
///
/// assert_eq!(3_u32.to_attribute_value(), Some(Value::I64(3)));
/// assert_eq!(None::<&str>.to_attribute_value(), None);
/// assert_eq!(
///     vec!["stop", "length"].to_attribute_value(),
///     Some(Value::Array(Array::String(vec![StringValue::from("stop"), StringValue::from("length")])))
/// );
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be recorded as a span attribute",
    label = "expected a string, number, bool, Duration, a slice of those, or an Option of one",
    note = "convert it first, for example with `.to_string()` or `.len()`"
)]
pub trait AttributeValue {
    /// The attribute value, or `None` to record nothing.
    fn to_attribute_value(&self) -> Option<Value>;
}

impl<T: AttributeValue + ?Sized> AttributeValue for &T {
    fn to_attribute_value(&self) -> Option<Value> {
        (**self).to_attribute_value()
    }
}

impl<T: AttributeValue + ?Sized> AttributeValue for &mut T {
    fn to_attribute_value(&self) -> Option<Value> {
        (**self).to_attribute_value()
    }
}

impl<T: AttributeValue + ?Sized> AttributeValue for Box<T> {
    fn to_attribute_value(&self) -> Option<Value> {
        (**self).to_attribute_value()
    }
}

impl<T: AttributeValue> AttributeValue for Option<T> {
    fn to_attribute_value(&self) -> Option<Value> {
        self.as_ref().and_then(AttributeValue::to_attribute_value)
    }
}

impl AttributeValue for Value {
    fn to_attribute_value(&self) -> Option<Value> {
        Some(self.clone())
    }
}

macro_rules! string_values {
    ($($t:ty),*) => {$(
        impl AttributeValue for $t {
            fn to_attribute_value(&self) -> Option<Value> {
                Some(Value::String(StringValue::from(self.to_string())))
            }
        }
    )*};
}
string_values!(str, String, Cow<'_, str>, Arc<str>, Rc<str>, char);

macro_rules! int_values {
    ($($t:ty),*) => {$(
        impl AttributeValue for $t {
            fn to_attribute_value(&self) -> Option<Value> {
                Some(Value::I64(i64::from(*self)))
            }
        }
    )*};
}
int_values!(i8, i16, i32, i64, u8, u16, u32);

macro_rules! wide_int_values {
    ($($t:ty),*) => {$(
        impl AttributeValue for $t {
            fn to_attribute_value(&self) -> Option<Value> {
                // Beyond i64 a number is more likely an id than a count: keep it exact as text.
                Some(match i64::try_from(*self) {
                    Ok(v) => Value::I64(v),
                    Err(_) => Value::String(self.to_string().into()),
                })
            }
        }
    )*};
}
wide_int_values!(u64, usize, isize, i128, u128);

impl AttributeValue for f64 {
    fn to_attribute_value(&self) -> Option<Value> {
        Some(Value::F64(*self))
    }
}

impl AttributeValue for f32 {
    fn to_attribute_value(&self) -> Option<Value> {
        Some(Value::F64(f64::from(*self)))
    }
}

impl AttributeValue for bool {
    fn to_attribute_value(&self) -> Option<Value> {
        Some(Value::Bool(*self))
    }
}

impl AttributeValue for Duration {
    fn to_attribute_value(&self) -> Option<Value> {
        Some(Value::F64(self.as_secs_f64()))
    }
}

/// Element types that make homogeneous OpenTelemetry arrays.
trait ArrayElement {
    fn collect<'a>(items: impl Iterator<Item = &'a Self>) -> Array
    where
        Self: 'a;
}

macro_rules! array_elements {
    ($variant:ident, $conv:expr, $($t:ty),*) => {$(
        impl ArrayElement for $t {
            fn collect<'a>(items: impl Iterator<Item = &'a Self>) -> Array where Self: 'a {
                Array::$variant(items.map($conv).collect())
            }
        }
    )*};
}
array_elements!(
    String,
    |s| StringValue::from(s.to_string()),
    String,
    &str,
    Cow<'_, str>,
    Arc<str>
);
array_elements!(I64, |v| *v, i64);
array_elements!(I64, |v| i64::from(*v), i32, u32, i16, u16, i8, u8);
array_elements!(F64, |v| *v, f64);
array_elements!(F64, |v| f64::from(*v), f32);
array_elements!(Bool, |v| *v, bool);

impl<T: ArrayElement> AttributeValue for [T] {
    fn to_attribute_value(&self) -> Option<Value> {
        Some(Value::Array(T::collect(self.iter())))
    }
}

impl<T: ArrayElement> AttributeValue for Vec<T> {
    fn to_attribute_value(&self) -> Option<Value> {
        self.as_slice().to_attribute_value()
    }
}

impl<T: ArrayElement, const N: usize> AttributeValue for [T; N] {
    fn to_attribute_value(&self) -> Option<Value> {
        self.as_slice().to_attribute_value()
    }
}

/// A value usable where a string attribute is required (`model = ...`,
/// `tool_call_id = ...`): strings, and `Option`s of them.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as a string here",
    label = "expected a `&str`, `String`, or an `Option` of one",
    note = "convert it first, for example with `.to_string()` or `.as_str()`"
)]
pub trait StrValue {
    /// The string, or `None` to record nothing.
    fn str_value(&self) -> Option<&str>;
}

impl<T: StrValue + ?Sized> StrValue for &T {
    fn str_value(&self) -> Option<&str> {
        (**self).str_value()
    }
}

impl<T: StrValue + ?Sized> StrValue for &mut T {
    fn str_value(&self) -> Option<&str> {
        (**self).str_value()
    }
}

impl<T: StrValue> StrValue for Option<T> {
    fn str_value(&self) -> Option<&str> {
        self.as_ref().and_then(StrValue::str_value)
    }
}

macro_rules! str_values {
    ($($t:ty),*) => {$(
        impl StrValue for $t {
            fn str_value(&self) -> Option<&str> {
                Some(self)
            }
        }
    )*};
}
str_values!(str, String, Cow<'_, str>, Arc<str>, Rc<str>, Box<str>);
