"""Words the pages show for the states of a grade, translated when
shown (so the request's language applies)."""

from trac.util.translation import _


def point_labels():
    """How far an answer gives a key point, as its badge says it."""
    return {'covered': _("Covered"), 'partial': _("Partly"),
            'missing': _("Missing")}


def confidence_labels():
    """How sure a grade is."""
    return {'high': _("high"), 'medium': _("medium"), 'low': _("low")}
