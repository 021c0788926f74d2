"""What the chain workers remember between runs: the deposit watcher's cursor, the
recent block hashes it saw (to detect reorgs), deposits in tokens the network does
not know, and the operator account's next transaction nonce."""

import json

from django.db import models

from exchange.models import Network
from exchange.models.fields import AddressField, AmountField, HashField


class WatcherCursor(models.Model):
    """The last block whose Deposit logs were fully read on one network."""

    network = models.OneToOneField(
        Network, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    start_block = models.PositiveBigIntegerField(
        default=0, help_text="Where scanning starts on a new cursor: the contract's deploy block."
    )
    block_number = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Last block scanned; empty: nothing scanned yet."
    )
    block_hash = HashField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # A node error that is not "unavailable" (chain/watcher_backoff.py): the scan halves
    # its range and waits before it tries the same block again; never skips it.
    range_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Blocks per eth_getLogs after a node error; empty: WATCHER_MAX_BLOCK_RANGE. "
        "Clear it to go back to the full range.",
    )
    failures = models.PositiveIntegerField(
        default=0, help_text="Failed scans of the next block in a row (0: not stuck)."
    )
    last_error = models.TextField(blank=True)
    retry_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"network {self.network_id} at {self.block_number}"

    @property
    def next_block(self) -> int:
        return self.start_block if self.block_number is None else self.block_number + 1


class ChainBlock(models.Model):
    """The hash the watcher saw at a height: for every scanned range's last block and
    every block holding a deposit. A stored hash that the node no longer returns at
    that height means a reorg."""

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="+")
    number = models.PositiveBigIntegerField()
    hash = HashField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["network_id", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["network", "number"], name="chain_block_unique_height")
        ]

    def __str__(self) -> str:
        return f"{self.network_id}#{self.number} {self.hash}"


class UnknownTokenDeposit(models.Model):
    """A Deposit event in a token that has no Token row on its network: recorded for
    operators, never credited (a balance needs a Token). To credit it, add the token
    and rewind the watcher's cursor below the block; the deposit is then read again."""

    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="+")
    token_address = AddressField()
    account = AddressField()
    amount = AmountField()
    contract_balance = AmountField(help_text="The user's balance in the contract after it.")
    transaction_hash = HashField()
    log_index = models.PositiveIntegerField()
    block_number = models.PositiveBigIntegerField()
    block_hash = HashField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["network", "transaction_hash", "log_index"],
                name="unknown_token_deposit_unique_log",
            )
        ]

    def __str__(self) -> str:
        return f"{self.amount} of {self.token_address} to {self.account}"


class OperatorNonce(models.Model):
    """The next nonce the operator account will sign with on a network. Every sender
    (withdrawals, trade settlement) takes nonces here under a row lock, so two workers
    never sign two transactions with one nonce."""

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="+")
    address = AddressField()
    next_nonce = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["network", "address"], name="operator_nonce_unique")
        ]

    def __str__(self) -> str:
        return f"{self.address} on {self.network_id}: next {self.next_nonce}"


class ReconciliationRun(models.Model):
    """One comparison of the off-chain ledger with the contract (chain/reconciliation.py).

    `differences` is a JSON list; each item has a `check` (balance, ledger, holdings,
    fee_account), the account and token where it applies, and the two figures."""

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="+")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(
        null=True, help_text="Yes: no difference. No: differences (or the run failed)."
    )
    block_number = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="The block the contract was read at."
    )
    balances_checked = models.PositiveIntegerField(default=0)
    differences = models.TextField(blank=True, default="[]", help_text="JSON list")
    error = models.TextField(blank=True, help_text="Why the run could not finish.")

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["network", "-started_at"], name="reconciliation_recent")]

    def __str__(self) -> str:
        state = {True: "ok", False: "DIFFERENCES", None: "running"}[self.ok]
        return f"network {self.network_id} at {self.started_at:%Y-%m-%d %H:%M:%S}: {state}"

    @property
    def difference_list(self) -> list[dict[str, str]]:
        """chain.reconciliation.Difference as dicts: every field a string."""
        differences: list[dict[str, str]] = json.loads(self.differences or "[]")
        return differences
