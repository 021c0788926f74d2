from exchange.models.accounts import AccountRestriction, OperatorFreeze, RestrictionKind
from exchange.models.ledger import Balance, FeeAccrual, LedgerEntry, LedgerKind
from exchange.models.market_data import CANDLE_PERIODS, Candle
from exchange.models.operations import (
    ApiKey,
    Ban,
    CostClass,
    RateLimitPolicy,
    SecurityType,
)
from exchange.models.orders import (
    CancelAll,
    CloseReason,
    Order,
    OrderSide,
    OrderStatus,
    SettlementStatus,
    Trade,
)
from exchange.models.reference import (
    FeeSchedule,
    Maintenance,
    Market,
    MarketRules,
    MarketStatus,
    Network,
    Token,
)
from exchange.models.streams import StreamCounter, StreamEvent
from exchange.models.transfers import Transfer, TransferKind, TransferStatus

__all__ = [
    "CANDLE_PERIODS",
    "AccountRestriction",
    "ApiKey",
    "Balance",
    "Ban",
    "CancelAll",
    "Candle",
    "CloseReason",
    "CostClass",
    "FeeAccrual",
    "FeeSchedule",
    "LedgerEntry",
    "LedgerKind",
    "Maintenance",
    "Market",
    "MarketRules",
    "MarketStatus",
    "Network",
    "OperatorFreeze",
    "Order",
    "OrderSide",
    "OrderStatus",
    "RateLimitPolicy",
    "RestrictionKind",
    "SecurityType",
    "SettlementStatus",
    "StreamCounter",
    "StreamEvent",
    "Token",
    "Trade",
    "Transfer",
    "TransferKind",
    "TransferStatus",
]
