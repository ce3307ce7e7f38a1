"""Database failures injected where Trac tells listeners of ticket
changes: inside the transaction writing the change, as a lost connection
would strike."""

from trac.core import Component, implements
from trac.ticket.api import ITicketChangeListener


class FailingTicketListener(Component):
    """Fails like a lost database connection when told of a ticket change
    while `failing` is set, or of the `fail_at`th new ticket (never while
    `fail_at` is None). Idle until a test turns it on; `changed` and
    `created` count what it was told."""

    implements(ITicketChangeListener)

    def __init__(self):
        self.failing = False
        self.fail_at = None
        self.changed = self.created = 0

    def ticket_created(self, ticket):
        self.created += 1
        if self.fail_at is not None and self.created == self.fail_at:
            self._fail()

    def ticket_changed(self, ticket, comment, author, old_values):
        self.changed += 1
        if self.failing:
            self._fail()

    def ticket_deleted(self, ticket):
        pass

    def _fail(self):
        raise self.env.db_exc.OperationalError(
            'injected: server closed the connection unexpectedly')
