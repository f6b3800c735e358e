// The host process's states without a process: each signal in each state,
// and the ends of what the controller started (see process_fsm.hpp).
#include <gtest/gtest.h>

#include <host/startup/process_fsm.hpp>

namespace fcgihost::host {
namespace {

using verb = process_step::verb;

process_fsm serving() {
  process_fsm fsm;
  fsm.started();
  return fsm;
}

TEST(ProcessFsm, ItServesOnceStarted) {
  process_fsm fsm;
  EXPECT_EQ(fsm.state(), process_state::starting);
  fsm.started();
  EXPECT_EQ(fsm.state(), process_state::serving);
}

TEST(ProcessFsm, HangUpReloadsAndServesAgain) {
  auto fsm = serving();
  EXPECT_EQ(fsm.on_signal(process_signal::hang_up).what, verb::reload);
  EXPECT_EQ(fsm.state(), process_state::reloading);
  fsm.reload_done();
  EXPECT_EQ(fsm.state(), process_state::serving);
}

TEST(ProcessFsm, TerminateAndInterruptDrainThenItStops) {
  for (const auto signal : {process_signal::terminate, process_signal::interrupt}) {
    auto fsm = serving();
    const auto step = fsm.on_signal(signal);
    EXPECT_EQ(step.what, verb::drain);
    EXPECT_FALSE(step.handed_over);
    EXPECT_EQ(step.why, signal == process_signal::terminate ? "SIGTERM" : "SIGINT");
    EXPECT_EQ(fsm.state(), process_state::draining);
    fsm.drained();
    EXPECT_EQ(fsm.state(), process_state::stopped);
  }
}

TEST(ProcessFsm, WhileDrainingASecondInterruptExitsAndTheRestIsRefusedOrIgnored) {
  auto fsm = serving();
  (void)fsm.on_signal(process_signal::terminate);
  EXPECT_EQ(fsm.on_signal(process_signal::terminate).what, verb::none);
  EXPECT_EQ(fsm.on_signal(process_signal::hang_up).what, verb::refuse);
  EXPECT_EQ(fsm.on_signal(process_signal::upgrade).what, verb::refuse);
  EXPECT_EQ(fsm.state(), process_state::draining) << "nothing left the drain";
  EXPECT_EQ(fsm.on_signal(process_signal::interrupt).what, verb::exit_now);
}

TEST(ProcessFsm, AnUpgradeThatServesHandsOverAndDrains) {
  auto fsm = serving();
  EXPECT_EQ(fsm.on_signal(process_signal::upgrade).what, verb::start_upgrade);
  EXPECT_EQ(fsm.state(), process_state::upgrading);
  const auto step = fsm.upgrade_ended(true);
  EXPECT_EQ(step.what, verb::drain);
  EXPECT_TRUE(step.handed_over);
  EXPECT_EQ(fsm.state(), process_state::draining);
}

TEST(ProcessFsm, AFailedUpgradeGoesOnServing) {
  auto fsm = serving();
  (void)fsm.on_signal(process_signal::upgrade);
  EXPECT_EQ(fsm.upgrade_ended(false).what, verb::none);
  EXPECT_EQ(fsm.state(), process_state::serving);
  EXPECT_EQ(fsm.on_signal(process_signal::upgrade).what, verb::start_upgrade) << "another may be tried";
}

TEST(ProcessFsm, OneUpgradeAtATime) {
  auto fsm = serving();
  (void)fsm.on_signal(process_signal::upgrade);
  const auto again = fsm.on_signal(process_signal::upgrade);
  EXPECT_EQ(again.what, verb::refuse);
  EXPECT_NE(again.why.find("already under way"), std::string_view::npos);
}

TEST(ProcessFsm, AReloadDuringAnUpgradeReturnsToTheUpgrade) {
  auto fsm = serving();
  (void)fsm.on_signal(process_signal::upgrade);
  EXPECT_EQ(fsm.on_signal(process_signal::hang_up).what, verb::reload);
  fsm.reload_done();
  EXPECT_EQ(fsm.state(), process_state::upgrading);
  EXPECT_EQ(fsm.upgrade_ended(true).what, verb::drain);
}

TEST(ProcessFsm, AStopDuringAnUpgradeGivesItUpAndItsLateSuccessChangesNothing) {
  auto fsm = serving();
  (void)fsm.on_signal(process_signal::upgrade);
  const auto step = fsm.on_signal(process_signal::terminate);
  EXPECT_EQ(step.what, verb::drain);
  EXPECT_TRUE(step.cancel_upgrade);
  EXPECT_EQ(fsm.upgrade_ended(true).what, verb::none) << "the successor came after the stop";
  EXPECT_EQ(fsm.upgrade_ended(false).what, verb::none);
  EXPECT_EQ(fsm.state(), process_state::draining);
}

TEST(ProcessFsm, EveryStateHasAName) {
  for (const auto state : {process_state::starting, process_state::serving, process_state::reloading,
                           process_state::upgrading, process_state::draining, process_state::stopped})
    EXPECT_NE(to_string(state), "unknown");
}

}  // namespace
}  // namespace fcgihost::host
