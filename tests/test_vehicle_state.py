import pytest

from bench.vehicle_state import UpdateConditions, VehicleState


def test_a_parked_car_with_ignition_on_may_update() -> None:
    assert UpdateConditions().violations(VehicleState()) == []


def test_each_broken_condition_has_its_reason() -> None:
    state = VehicleState(speed_kph=3.0, gear="D", ignition="off", battery_voltage=10.9, state_of_charge=12,
                         parking_brake=False)
    reasons = UpdateConditions(min_state_of_charge=30).violations(state)
    assert reasons == ["vehicle moving (3 km/h > 0)", "gear D (needs P)", "ignition off (needs on)",
                       "battery 10.9 V < 11.5 V", "state of charge 12 % < 30 %", "parking brake released"]


def test_an_unknown_gear_or_terminal_state_is_refused() -> None:
    with pytest.raises(ValueError, match="gear 'X'"):
        VehicleState(gear="X")
    with pytest.raises(ValueError, match="ignition 'run'"):
        VehicleState(ignition="run")
