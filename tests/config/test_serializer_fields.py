"""config.api.FieldsOnceMixin: a serializer's fields built once per class, copied per
instance (issue "The shared numbers at 1M leads": the request path)."""

from __future__ import annotations

from rest_framework import serializers

from leads.api.records import LeadDetailSerializer, LeadSerializer


def test_fields_are_built_once_per_class(monkeypatch):
    built = []
    real = serializers.ModelSerializer.get_fields

    def counting(self):
        built.append(type(self).__name__)
        return real(self)

    monkeypatch.setattr(serializers.ModelSerializer, "get_fields", counting)
    for cls in (LeadSerializer, LeadDetailSerializer):
        monkeypatch.delattr(cls, "_fields_once", raising=False)
    for _ in range(3):
        assert "email" in LeadSerializer().fields
        assert "stage_history" in LeadDetailSerializer().fields
    # Each class its own set (the detail has more fields), each built once.
    assert built == ["LeadSerializer", "LeadDetailSerializer"]


def test_each_instance_has_its_own_bound_fields():
    first, second = LeadSerializer(), LeadSerializer()
    assert first.fields["email"] is not second.fields["email"]
    assert first.fields["email"].parent is first
    assert second.fields["campaign"].parent is second
    # The nested serializer too: one instance's binding never shows in another's.
    a, b = LeadDetailSerializer(), LeadDetailSerializer()
    assert a.fields["stage_history"].child is not b.fields["stage_history"].child
    assert a.fields["stage_history"].parent is a


def test_the_copied_fields_validate_as_built_ones(db, active_agreement):
    serializer = LeadSerializer(data={"email": "not-an-email", "country": "PL"})
    assert not serializer.is_valid()
    assert "email" in serializer.errors
    assert LeadSerializer(data={"email": "ok@example.com"}).is_valid()


def test_a_plain_field_is_copied_shallowly_and_a_field_with_a_child_deeply(monkeypatch):
    """Binding sets a field's name and parent on the copy only; a plain field's options are
    shared (no re-construction per instance, the cost the mixin removes), while a field
    whose child is bound to it is copied whole, so the child's parent is the copy."""
    deep_copies = []
    real = serializers.Field.__deepcopy__

    def counting(self, memo):
        deep_copies.append(type(self).__name__)
        return real(self, memo)

    LeadSerializer()  # built
    monkeypatch.setattr(serializers.Field, "__deepcopy__", counting)
    first, second = LeadSerializer(), LeadSerializer()
    assert first.fields["email"] is not second.fields["email"]
    assert first.fields["email"].validators is second.fields["email"].validators  # shared
    assert first.fields["email"].field_name == "email" and first.fields["email"].parent is first
    assert not [name for name in deep_copies if name in ("EmailField", "CharField")]
    detail = LeadDetailSerializer()
    history = detail.fields["stage_history"]
    assert history.child.parent is history and history.parent is detail
