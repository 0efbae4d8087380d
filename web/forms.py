"""WHAT: `NegotiationForm`, the fields of /negotiations/new, and `form_errors_from`, which puts the
     services' validation errors beside the fields they are about.
WHY: the services (negotiation_create) are the one validation of a negotiation; the form only shapes
     a person's input for them, so a rule never differs between the page and the API.
HOW: a plain Django form (CSRF by the middleware); `service_input` builds the services' arguments;
     the nested error map {"buyer": {"limit_price": [...]}} is mapped to `buyer_limit_price` etc.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from negotiations.models import AgentMode, Listing, Strategy

__all__ = ["NegotiationForm", "form_errors_from"]

SIDES = ("buyer", "seller")
SIDE_FIELDS = ("limit_price", "target_price", "strategy", "mode")


def _side_fields(role: str) -> dict[str, forms.Field]:
    return {
        f"{role}_limit_price": forms.DecimalField(
            label=f"{role.title()} limit", max_digits=12, decimal_places=2, min_value=0
        ),
        f"{role}_target_price": forms.DecimalField(
            label=f"{role.title()} target", required=False, max_digits=12, decimal_places=2, min_value=0
        ),
        f"{role}_strategy": forms.ChoiceField(
            label=f"{role.title()} strategy", choices=Strategy.choices, initial=Strategy.LINEAR
        ),
        f"{role}_mode": forms.ChoiceField(label=f"{role.title()} mode", choices=AgentMode.choices, initial="narrate"),
    }


class NegotiationForm(forms.Form):
    listing = forms.ModelChoiceField(queryset=Listing.objects.none(), empty_label="Choose a listing")
    model = forms.CharField(
        label="Model",
        required=False,
        max_length=200,
        help_text="Empty: the provider's default.",
        widget=forms.TextInput(attrs={"list": "known-models"}),
    )
    max_rounds = forms.IntegerField(label="Max rounds", min_value=1, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["listing"].queryset = Listing.objects.filter(status=Listing.Status.AVAILABLE).order_by("-id")
        self.fields["max_rounds"].widget.attrs["max"] = settings.NEGOTIATION_MAX_ROUNDS_CAP
        self.fields["max_rounds"].initial = settings.NEGOTIATION_DEFAULT_MAX_ROUNDS
        for role in SIDES:
            self.fields.update(_side_fields(role))

    def offer_models(self, listed: list[str] | None, default: str) -> None:
        """The model field as a choice of the provider's listed models (empty: its default), or, when
        the provider did not list them (`listed` None), free text suggesting the default model."""
        field = self.fields["model"]
        if listed is None:
            field.widget.attrs["placeholder"] = default
            field.help_text = "The provider did not list its models: type a model name (empty: its default)."
            return
        chosen = (self.data.get(self.add_prefix("model")) or "").strip() if self.is_bound else ""
        names = listed + ([chosen] if chosen and chosen not in listed else [])
        empty = f"Provider default ({default})" if default else "Provider default"
        field.widget = forms.Select(choices=[("", empty), *((name, name) for name in names)])
        field.help_text = "The models the provider lists."

    def sides(self) -> list[tuple[str, list[forms.BoundField]]]:
        return [(role, [self[f"{role}_{name}"] for name in SIDE_FIELDS]) for role in SIDES]

    def service_input(self) -> dict[str, Any]:
        data = self.cleaned_data
        sides = {}
        for role in SIDES:
            side: dict[str, Any] = {
                "limit_price": str(data[f"{role}_limit_price"]),
                "strategy": data[f"{role}_strategy"],
                "mode": data[f"{role}_mode"],
            }
            if data.get(f"{role}_target_price") is not None:
                side["target_price"] = str(data[f"{role}_target_price"])
            if data.get("model"):
                side["model"] = data["model"]
            sides[role] = side
        return {"listing": data["listing"].pk, "max_rounds": data.get("max_rounds"), **sides}


def form_errors_from(form: NegotiationForm, fields: dict[str, Any]) -> None:
    """Adds the services' error map to the form, each message on its field (else on the form)."""
    for key, value in fields.items():
        if isinstance(value, dict):
            for name, messages in value.items():
                target = f"{key}_{name}" if f"{key}_{name}" in form.fields else None
                for message in messages:
                    form.add_error(target, message if target else f"{key} {name}: {message}")
            continue
        target = key if key in form.fields else None
        for message in value:
            form.add_error(target, message)
