"""The relay: a link's data model on MQTT and RabbitMQ, and setting commands back.

One core (`core.Relay`) listens to a `LinkSession`, decides what to publish and turns commands
into session writes; bus adapters (`RelayBus`) carry the messages: `mqtt.MqttBus` (aiomqtt,
standalone), `amqp.AmqpBus` (aio-pika), or an adapter over Home Assistant's own MQTT.

The contract
------------

MQTT topics (base `inverter_hub` unless configured), JSON in UTF-8, QoS 1:

- `<base>/<serial>/state` (retained): `{"<point key>": value, ..., "time": "<ISO 8601 UTC>"}`,
  each value in its point's unit (floats rounded to the point's precision, a time of day as
  `"HH:MM"`, an enum as its option); `time` is when the values were read (no point uses it).
  Published when a value leaves its deadband (half a unit of its last shown digit), at least
  every slow interval (300 s), and right after a write, with the value read back.
- `<base>/<serial>/availability` (retained): `online` or `offline`; `offline` is also the last
  will of the standalone service's connection for that device.
- `<base>/<serial>/model` (retained): `{"serial_number", "family", "model", "manufacturer",
  "firmware", "points": [{"key", "name", "kind", "type", "unit", "options", "min", "max",
  "step", "precision", "device_class", "state_class", "writable"}]}`: enough to build a UI
  without knowing the family; `writable` says whether this relay accepts commands for it.
- `<base>/<serial>/set`: a command, `{"id": "...", "key": "...", "value": ...}` (an action takes
  no value), or a partial data model `{"id": "...", "settings": {"key": value, ...}}`.
- `<base>/<serial>/result`: the answer, `{"id", "key", "ok", "outcome", "old", "new",
  "error": null | {"code", "message"}}`; for a partial model `{"id", "ok", "error",
  "settings": {"<key>": {"ok", "outcome", "old", "new", "error"}}}`. `outcome` is `applied`,
  `unchanged` (the device already held it), `refused` (bad input: nothing sent), `failed`
  (the device or link failed) or `skipped` (not tried because another key was refused or
  failed).

RabbitMQ: a durable topic exchange `inverter_hub` (configurable) with routing keys
`<serial>.state`, `<serial>.availability`, `<serial>.model` (persistent messages, publisher
confirms; AMQP retains nothing, so a consumer that binds later gets the state at the next
publish) and `<serial>.set`. Each device has a durable queue `<exchange>.<serial>.set`; a
command is acknowledged only after the write pipeline finished and its reply was confirmed.
The reply goes to the request's `reply_to` with its `correlation_id` (same body as the MQTT
result), or to `<serial>.result` on the exchange when there is no `reply_to`. A command that
cannot be answered (its `reply_to` queue is gone, or it broke the relay) is dead-lettered to the
fanout exchange `<exchange>.dead` and kept in the queue `<exchange>.dead` (the newest 1000).

Commands, in order of the checks:

1. Malformed (not JSON, no `id`, neither `key` nor `settings`, over 64 KiB or 64 keys):
   `malformed_command`. Commands off (the default): `commands_disabled`.
2. An id already applied to that device is answered again with the recorded result and not
   applied again, also across a restart: the newest 1000 ids are kept in a JSON file. A
   duplicate that arrives while the first is running waits for the same answer.
3. Every key is checked before anything is sent: `unknown_device`, `unknown_point`,
   `not_writable` (a reading), `invalid_value` (type, range, step, options),
   `expert_mode_required`, `key_not_allowed` (not on the allow-list), `action_not_allowed`
   (actions run only when named on the allow-list). One bad key refuses the whole command.
4. The keys are written in order through the write pipeline (skip unchanged, send, read back);
   the first failure (`device_refused`, `link_timeout`, `read_back_mismatch`, ...) skips the
   rest; earlier keys stay applied.
5. An id whose run was cut by a crash is run again if it only sets settings (the pipeline skips
   what already holds); one with an action is answered `interrupted`, never run twice.

Faults: a broker that is down at start or goes away never stops the session. Each bus
reconnects with back-off (1 s doubling to 60 s), reports up/down through a callback, and on
reconnect publishes the current model, availability and state again. RabbitMQ redelivers
unacknowledged commands; MQTT keeps a persistent session (clean session off, client id
`<client id>-<serial>`), so commands sent while the relay was away wait in the broker; a result
that could not be sent is sent after the reconnect. TLS: `mqtts://` and `amqps://` URLs use the
given SSL context (the service: the system's certificate store, with hostname checks).
Credentials are never logged.
"""

from .bus import Channel, RelayBus
from .core import Relay, RelayOptions, RelaySession
from .store import CommandStore

__all__ = ["Channel", "CommandStore", "Relay", "RelayBus", "RelayOptions", "RelaySession"]
