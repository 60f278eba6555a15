from pystator import StateMachine
from tests.conftest import EXAMPLES


def test_quick_start_machine_processes_one_event() -> None:
    machine = StateMachine.from_yaml(EXAMPLES / "order_fsm.yaml")
    result = machine.process("PENDING", "exchange_ack", {})
    assert result.success
    assert result.target_state == "OPEN"
