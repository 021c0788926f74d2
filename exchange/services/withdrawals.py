"""Withdrawals: a signed request holds the amount; the chain workers send it
(chain/withdrawals.py) and settle the ledger here once the outcome is known.

States: PENDING (held, queued) -> PROCESSING (transaction signed, stored and sent)
-> COMPLETE (mined and confirmed: debited, fee to the fee account) or FAILED
(reverted or refused: hold released). Each step is a conditional update on the
status, so a step runs once however many workers try it.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from exchange.commit_marks import marks_set_on_commit
from exchange.models import (
    LedgerKind,
    Network,
    Token,
    Transfer,
    TransferKind,
    TransferStatus,
)
from exchange.protocol.hashing import withdraw_hash
from exchange.protocol.signatures import InvalidSignature
from exchange.protocol.typed_data import ETH_SIGN
from exchange.selectors.reference_cache import token_kept
from exchange.services.account_guard import account_guard, escape_payable_check
from exchange.services.chain_jobs import withdrawal_dispatch_mark
from exchange.services.direct_withdrawals import shortfalls_repay
from exchange.services.errors import FieldCode, FieldError, Invalid
from exchange.services.ledger import (
    balance_change,
    balance_returned,
    balances_lock,
    token_balance_lock,
)
from exchange.services.rows import as_saved, prepared_fetchone
from exchange.services.signing import signed_message, signer_verified
from exchange.streams.events import balances_changed, transfer_created, transfers_changed

logger = logging.getLogger(__name__)

FEE_CAP_DIVISOR = 10


def _token_rules_check(token: Token, amount: int) -> None:
    """The token's rules (GET /tokens: withdrawalMinimum, amountPrecision): 1004 on
    amount, the reason naming the rule and its value."""
    minimum = int(token.withdrawal_minimum)
    if amount < minimum:
        raise FieldError(
            "amount",
            FieldCode.OUT_OF_RANGE,
            f"Rule withdrawalMinimum of {token.symbol}: a withdrawal must be at least "
            f"{minimum} base units; {amount} is less",
        )
    if token.amount_precision is not None and token.amount_precision < token.decimals:
        unit = 10 ** (token.decimals - token.amount_precision)
        if amount % unit:
            raise FieldError(
                "amount",
                FieldCode.OUT_OF_RANGE,
                f"Rule amountPrecision of {token.symbol}: amounts carry at most "
                f"{token.amount_precision} decimal places, so they are multiples of {unit} "
                f"base units; {amount} is not (nearest: {amount - amount % unit})",
            )


def withdrawal_request(
    *,
    network: Network,
    account: str,
    token_address: str,
    amount: int,
    nonce: int,
    signature: str,
    signature_type: str = ETH_SIGN,
) -> Transfer:
    """Checks the signed withdrawHash (or EIP-712 Withdraw digest: `signature_type`) and
    the available balance, holds the amount and queues the withdrawal for dispatch (after
    commit)."""
    account, token_address = account.lower(), token_address.lower()
    if not network.exchange_address:
        raise Invalid(f"No exchange contract on network {network.id}")
    token = token_kept(network.id, token_address)
    if token is None:
        raise FieldError(
            "tokenAddress",
            FieldCode.ADDRESS_NOT_SUPPORTED,
            f"Token {token_address} is not supported on network {network.id}",
        )
    expected_hash = withdraw_hash(
        contract=network.exchange_address,
        token=token_address,
        amount=amount,
        account=account,
        nonce=nonce,
    )
    signed = signed_message(
        signature_type=signature_type,
        hash_name="withdrawHash",
        spec_hash=expected_hash,
        struct="Withdraw",
        message={
            "contractAddress": network.exchange_address,
            "tokenAddress": token_address,
            "amount": amount,
            "account": account,
            "nonce": nonce,
        },
        chain_id=network.id,
        contract=network.exchange_address,
    )
    try:
        signer = signed.signer(signature)
    except InvalidSignature as error:
        raise FieldError(
            "signature",
            FieldCode.INVALID_SIGNATURE,
            f"Invalid signature ({error}); expected a signature of {signed.description}",
        ) from None
    if signer != account:
        raise FieldError(
            "signature",
            FieldCode.INVALID_SIGNATURE,
            f"The signature of {signed.description} recovers to {signer}, not {account}",
        )
    signer_verified(account)
    _token_rules_check(token, amount)
    fee = int(token.withdrawal_fee)
    if amount <= fee or fee > amount // FEE_CAP_DIVISOR:
        # The contract refuses a fee over 10% of the amount (its FEE_CAP_DIVISOR).
        raise FieldError(
            "amount",
            FieldCode.OUT_OF_RANGE,
            f"amount must be more than the withdrawal fee of {fee} and at least "
            f"{FEE_CAP_DIVISOR} times it",
        )
    replay = FieldError(
        "signature", FieldCode.INVALID_SIGNATURE, f"withdrawHash {expected_hash} was already used"
    )
    request = _Request(network, account, token, amount, fee, expected_hash, nonce, signature)
    try:
        withdrawal = (
            _withdrawal_hold_fast(request, signature_type)
            if connection.vendor == "postgresql"
            else None
        )
    except IntegrityError:
        # The unique index on the hash: this withdrawHash was used (nothing was written).
        raise replay from None
    if withdrawal is not None:
        logger.info("event=withdrawal_requested transfer=%s amount=%s", withdrawal.id, amount)
        return withdrawal
    # The ORM path: SQLite, an account under a restriction, and the refusals.
    if Transfer.objects.filter(hash=expected_hash).exists():
        raise replay
    guard = account_guard(network=network, accounts=[account])
    guard.read(account, token.address)
    try:
        with transaction.atomic():
            balance = token_balance_lock(token=token, account=account)
            if balance.available < amount:
                raise FieldError(
                    "amount",
                    FieldCode.OUT_OF_RANGE,
                    f"amount {amount} is more than the available balance {balance.available}",
                )
            escape_payable_check(
                guard=guard,
                account=account,
                token_id=token.id,
                token_address=token.address,
                amount=amount,
                field="amount",
            )
            withdrawal = Transfer.objects.create(
                network=network,
                kind=TransferKind.WITHDRAWAL,
                account=account,
                token=token,
                amount=amount,
                fee=fee,
                hash=expected_hash,
                nonce=nonce,
                signature=signature,
                signature_type=signature_type,
            )
            transfers_changed([withdrawal.id])
            balance_change(
                balance,
                kind=LedgerKind.HOLD,
                held_delta=amount,
                reference=f"transfer:{withdrawal.id}",
            )
            # A broker outage must not fail a committed request (commit_marks logs it);
            # beat's next tick dispatches every PENDING withdrawal anyway.
            marks_set_on_commit([withdrawal_dispatch_mark(network.id)])
    except IntegrityError:
        # The same withdrawHash committed by a concurrent request.
        raise replay from None
    logger.info("event=withdrawal_requested transfer=%s amount=%s", withdrawal.id, amount)
    return withdrawal


@dataclass(frozen=True)
class _Request:
    network: Network
    account: str
    token: Token
    amount: int
    fee: int
    hash: str
    nonce: int
    signature: str


# One statement (PostgreSQL): the hold taken if the balance's available part covers the
# amount (re-checked on the row's latest version after a wait for its lock) and the
# account has no open restriction; the PENDING withdrawal and the HOLD entry that names
# it, both only if the hold was taken. Zero rows: nothing written, the ORM path says why.
_HOLD_SQL = """
WITH balance AS (
    UPDATE exchange_balance AS b SET held = b.held + %(amount)s, updated_at = %(now)s
    WHERE b.account = %(account)s AND b.token_id = %(token)s
      AND b.total - b.held >= %(amount)s
      AND NOT EXISTS (
          SELECT 1 FROM exchange_accountrestriction AS r
          WHERE r.network_id = %(network)s AND r.account = %(account)s
            AND r.resolved_at IS NULL)
    RETURNING b.id, b.network_id, b.total, b.held
), transfer AS (
    INSERT INTO exchange_transfer
        (network_id, kind, account, token_id, amount, fee, status, hash, nonce, signature,
         signature_type, transaction_hash, block_hash, raw_transaction, error, shortfall,
         created_at, updated_at)
    SELECT %(network)s, %(kind)s, %(account)s, %(token)s, %(amount)s, %(fee)s, %(pending)s,
           %(hash)s, %(nonce)s, %(signature)s, %(signature_type)s, '', '', '', '', 0,
           %(now)s, %(now)s
    FROM balance
    RETURNING id
), entry AS (
    INSERT INTO exchange_ledgerentry
        (balance_id, kind, total_delta, held_delta, total_after, held_after, reference,
         created_at)
    SELECT balance.id, %(hold)s, 0, %(amount)s, balance.total, balance.held,
           'transfer:' || transfer.id, %(now)s
    FROM balance, transfer
)
SELECT transfer.id, balance.id, balance.network_id, balance.total, balance.held
FROM transfer, balance
"""


def _withdrawal_hold_fast(request: _Request, signature_type: str) -> Transfer | None:
    """The withdrawal held and queued in one statement, or None when it wrote nothing."""
    moment = timezone.now()
    params = {
        "amount": request.amount,
        "now": moment,
        "account": request.account,
        "token": request.token.id,
        "network": request.network.id,
        "kind": TransferKind.WITHDRAWAL.value,
        "fee": request.fee,
        "pending": TransferStatus.PENDING.value,
        "hash": request.hash,
        "nonce": request.nonce,
        "signature": request.signature,
        "signature_type": signature_type,
        "hold": LedgerKind.HOLD.value,
    }
    with transaction.atomic():
        row = prepared_fetchone(_HOLD_SQL, params)
        if row is None:
            return None
        withdrawal = Transfer(
            id=row[0],
            network=request.network,
            kind=TransferKind.WITHDRAWAL,
            account=request.account,
            token=request.token,
            amount=request.amount,
            fee=request.fee,
            hash=request.hash,
            nonce=request.nonce,
            signature=request.signature,
            signature_type=signature_type,
            created_at=moment,
            updated_at=moment,
        )
        as_saved(withdrawal)
        # The events in the ORM path's order: the transfer, then the balance.
        transfer_created(withdrawal)
        balances_changed(
            [balance_returned(account=request.account, token_id=request.token.id, row=row[1:])]
        )
        marks_set_on_commit([withdrawal_dispatch_mark(request.network.id)])
    return withdrawal


def withdrawal_complete(
    *, withdrawal_id: int, block_number: int, block_hash: str, fee_account: str | None = None
) -> bool:
    """PROCESSING -> COMPLETE once the transaction is mined, succeeded and confirmed:
    the user's total and hold drop by the amount; the fee goes to the fee account."""
    fee_account = (fee_account or settings.FEE_ACCOUNT).lower()
    with transaction.atomic():
        changed = Transfer.objects.filter(
            id=withdrawal_id, kind=TransferKind.WITHDRAWAL, status=TransferStatus.PROCESSING
        ).update(
            status=TransferStatus.COMPLETE,
            block_number=block_number,
            block_hash=block_hash.lower(),
            updated_at=timezone.now(),
        )
        if changed != 1:
            return False
        transfers_changed([withdrawal_id])
        withdrawal = Transfer.objects.select_related("token__network").get(id=withdrawal_id)
        token = withdrawal.token
        keys = [(withdrawal.account, token.id)]
        if withdrawal.fee:
            keys.append((fee_account, token.id))
        balances = balances_lock(network=token.network, keys=keys)
        reference = f"transfer:{withdrawal.id}"
        balance_change(
            balances[(withdrawal.account, token.id)],
            kind=LedgerKind.WITHDRAWAL,
            total_delta=-withdrawal.amount,
            held_delta=-withdrawal.amount,
            reference=reference,
        )
        if withdrawal.fee:
            balance_change(
                balances[(fee_account, token.id)],
                kind=LedgerKind.WITHDRAWAL_FEE,
                total_delta=withdrawal.fee,
                reference=reference,
            )
    logger.info("event=withdrawal_complete transfer=%s", withdrawal_id)
    return True


def withdrawal_fail(*, withdrawal_id: int, reason: str) -> bool:
    """PENDING or PROCESSING -> FAILED (reverted, or refused for good): the hold is released."""
    with transaction.atomic():
        changed = Transfer.objects.filter(
            id=withdrawal_id,
            kind=TransferKind.WITHDRAWAL,
            status__in=[TransferStatus.PENDING, TransferStatus.PROCESSING],
        ).update(status=TransferStatus.FAILED, error=reason, updated_at=timezone.now())
        if changed != 1:
            return False
        transfers_changed([withdrawal_id])
        withdrawal = Transfer.objects.select_related("token__network").get(id=withdrawal_id)
        balance = token_balance_lock(token=withdrawal.token, account=withdrawal.account)
        balance_change(
            balance,
            kind=LedgerKind.RELEASE,
            held_delta=-withdrawal.amount,
            reference=f"transfer:{withdrawal.id}",
        )
        # Released funds a direct withdrawal already took from the contract: debited now.
        shortfalls_repay(balance=balance)
    logger.warning("event=withdrawal_failed transfer=%s reason=%s", withdrawal_id, reason)
    return True
