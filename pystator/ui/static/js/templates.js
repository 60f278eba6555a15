// Starting points for a new machine (YAML text).

export const TEMPLATES = [
  {
    id: "order",
    title: "Order",
    summary: "Three states: an order is acknowledged, then filled. The smallest useful machine.",
    yaml: `meta:
  machine_name: order_management
  version: "1.0.0"
  strict_mode: true
states:
  - name: PENDING
    type: initial
  - name: OPEN
  - name: FILLED
    type: terminal
  - name: CANCELLED
    type: terminal
transitions:
  - trigger: exchange_ack
    source: PENDING
    dest: OPEN
  - trigger: fill
    source: OPEN
    dest: FILLED
    guards:
      - expr: "filled_qty >= qty"
    actions: [notify_client]
  - trigger: cancel
    source: [PENDING, OPEN]
    dest: CANCELLED
`,
  },
  {
    id: "approval",
    title: "Approval with guards and a delay",
    summary: "Named guards decide between two outcomes; a request expires after 2 hours.",
    yaml: `meta:
  machine_name: expense_approval
  version: "1.0.0"
  description: An expense claim is reviewed, approved or rejected, and paid.
states:
  - name: SUBMITTED
    type: initial
  - name: IN_REVIEW
  - name: APPROVED
  - name: PAID
    type: terminal
  - name: REJECTED
    type: terminal
  - name: EXPIRED
    type: terminal
transitions:
  - trigger: review
    source: SUBMITTED
    dest: IN_REVIEW
    actions: [assign_reviewer]
  - trigger: decide
    source: IN_REVIEW
    dest: APPROVED
    guards: [within_budget, has_receipts]
    priority: 1
  - trigger: decide
    source: IN_REVIEW
    dest: REJECTED
  - trigger: pay
    source: APPROVED
    dest: PAID
    actions: [transfer_funds]
  - after: 2h
    source: [SUBMITTED, IN_REVIEW]
    dest: EXPIRED
`,
  },
  {
    id: "hierarchy",
    title: "Nested (compound) states",
    summary: "A job with a RUNNING compound state holding two phases, and a global abort.",
    yaml: `meta:
  machine_name: batch_job
  version: "1.0.0"
states:
  - name: QUEUED
    type: initial
  - name: RUNNING
    initial_child: LOADING
  - name: LOADING
    parent: RUNNING
  - name: PROCESSING
    parent: RUNNING
  - name: DONE
    type: terminal
  - name: ABORTED
    type: terminal
transitions:
  - trigger: start
    source: QUEUED
    dest: RUNNING
  - trigger: loaded
    source: LOADING
    dest: PROCESSING
  - trigger: finish
    source: PROCESSING
    dest: DONE
  - trigger: retry
    source: PROCESSING
    dest: LOADING
  - trigger: abort
    source: RUNNING
    dest: ABORTED
`,
  },
  {
    id: "parallel",
    title: "Parallel regions",
    summary: "A trading monitor watching a market feed and a risk level at the same time.",
    yaml: `meta:
  machine_name: trading_monitor
  version: "1.0.0"
states:
  - name: IDLE
    type: initial
  - name: MONITORING
    type: parallel
    regions:
      - name: feed
        states: [CONNECTING, STREAMING, STALE]
      - name: risk
        states: [CALM, ALERT]
  - name: STOPPED
    type: terminal
transitions:
  - trigger: start
    source: IDLE
    dest: MONITORING
  - trigger: connected
    source: CONNECTING
    dest: STREAMING
  - trigger: heartbeat_missed
    source: STREAMING
    dest: STALE
  - trigger: reconnect
    source: STALE
    dest: CONNECTING
  - trigger: limit_breached
    source: CALM
    dest: ALERT
    guards: [exposure_over_limit]
  - trigger: limit_cleared
    source: ALERT
    dest: CALM
  - trigger: stop
    source: MONITORING
    dest: STOPPED
`,
  },
  {
    id: "blank",
    title: "Blank",
    summary: "One state; build the rest with the visual builder.",
    yaml: `meta:
  machine_name: my_machine
  version: "1.0.0"
states:
  - name: START
    type: initial
transitions: []
`,
  },
];
