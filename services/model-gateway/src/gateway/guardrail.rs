//! The grade-aware guardrail: what may go where. Content graded high may go only to
//! on-premise endpoints; medium content is masked before it goes to an external endpoint;
//! low content goes anywhere. A model trained on graded data carries that grade too: its
//! weights may reveal the data. Pure rules; the scan that grades a prompt is elsewhere.

use crate::registry::Location;
use brain_governance::domain::Grade;

/// What happens to a request at one endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Treatment {
    Send,
    SendMasked,
    Refuse,
}

/// The outcome reported to the caller (`x-brain-guardrail`) and audited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Mask,
    Reroute,
    Block,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Mask => "mask",
            Self::Reroute => "reroute",
            Self::Block => "block",
        }
    }
}

/// Per-brain switches (`model_gateway.guardrail`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuardrailPolicy {
    pub enabled: bool,
    /// Medium content to external endpoints: masked (true) or refused (false).
    pub mask_medium_for_external: bool,
}

impl Default for GuardrailPolicy {
    fn default() -> Self {
        Self { enabled: true, mask_medium_for_external: true }
    }
}

/// How a request whose content is graded `content` (and whose model was trained on data
/// graded `trained_on`) is treated at an endpoint in `location`.
pub fn treatment(content: Grade, trained_on: Grade, location: Location, policy: GuardrailPolicy) -> Treatment {
    if !policy.enabled {
        return Treatment::Send;
    }
    let grade = content.max(trained_on);
    match (grade, location) {
        (_, Location::OnPremise) | (Grade::Low, _) => Treatment::Send,
        (Grade::High, _) => Treatment::Refuse,
        (Grade::Medium, Location::InProvince) => Treatment::Send,
        // Masking changes the prompt, not what the model learned: a model trained on medium
        // data is not sent outside at all.
        (Grade::Medium, Location::External) if trained_on >= Grade::Medium => Treatment::Refuse,
        (Grade::Medium, Location::External) if policy.mask_medium_for_external => Treatment::SendMasked,
        (Grade::Medium, Location::External) => Treatment::Refuse,
    }
}

/// The treatments of a model's endpoints, and whether any may serve at all.
pub fn plan(content: Grade, trained_on: Grade, locations: &[Location], policy: GuardrailPolicy) -> Vec<Treatment> {
    locations.iter().map(|l| treatment(content, trained_on, *l, policy)).collect()
}

/// What is reported once the request went to the endpoint with `used` treatment, given the
/// treatments of all endpoints (`None`: no endpoint could take it).
pub fn decision(plan: &[Treatment], used: Option<Treatment>) -> Decision {
    match used {
        None if plan.iter().all(|t| *t == Treatment::Refuse) => Decision::Block,
        None => Decision::Allow,
        Some(Treatment::SendMasked) => Decision::Mask,
        Some(_) if plan.contains(&Treatment::Refuse) => Decision::Reroute,
        Some(_) => Decision::Allow,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Location::*;

    const ON: GuardrailPolicy = GuardrailPolicy { enabled: true, mask_medium_for_external: true };

    #[test]
    fn high_content_goes_only_on_premise() {
        assert_eq!(plan(Grade::High, Grade::Low, &[OnPremise, InProvince, External], ON), [Treatment::Send, Treatment::Refuse, Treatment::Refuse]);
        let only_external = plan(Grade::High, Grade::Low, &[External], ON);
        assert_eq!(decision(&only_external, None), Decision::Block);
        let mixed = plan(Grade::High, Grade::Low, &[External, OnPremise], ON);
        assert_eq!(decision(&mixed, Some(Treatment::Send)), Decision::Reroute);
    }

    #[test]
    fn medium_content_is_masked_for_external_endpoints_only() {
        assert_eq!(plan(Grade::Medium, Grade::Low, &[OnPremise, InProvince, External], ON), [Treatment::Send, Treatment::Send, Treatment::SendMasked]);
        let external = plan(Grade::Medium, Grade::Low, &[External], ON);
        assert_eq!(decision(&external, Some(Treatment::SendMasked)), Decision::Mask);
        let strict = GuardrailPolicy { mask_medium_for_external: false, ..ON };
        assert_eq!(treatment(Grade::Medium, Grade::Low, External, strict), Treatment::Refuse);
    }

    #[test]
    fn low_content_goes_anywhere_unless_the_model_learned_graded_data() {
        assert_eq!(plan(Grade::Low, Grade::Low, &[External, InProvince], ON), [Treatment::Send, Treatment::Send]);
        assert_eq!(decision(&[Treatment::Send], Some(Treatment::Send)), Decision::Allow);
        assert_eq!(treatment(Grade::Low, Grade::High, External, ON), Treatment::Refuse, "weights trained on high data stay on premise");
        assert_eq!(treatment(Grade::Low, Grade::Medium, External, ON), Treatment::Refuse);
        assert_eq!(treatment(Grade::Low, Grade::Medium, InProvince, ON), Treatment::Send);
    }

    #[test]
    fn a_disabled_guardrail_sends_everything() {
        let off = GuardrailPolicy { enabled: false, ..ON };
        assert_eq!(treatment(Grade::High, Grade::High, External, off), Treatment::Send);
    }
}
