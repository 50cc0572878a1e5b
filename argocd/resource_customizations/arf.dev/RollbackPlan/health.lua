-- Argo CD health of an arf.dev RollbackPlan, from the conditions the operator
-- writes (operator/policy/reconciler.ts, operator/lib/kstatus.ts) and the
-- auto-rollback window of the latest action on its target (operator/rollback).
-- Argo CD runs scripts from argocd-cm in Lua 5.1 without the string library:
-- text is built with .. and tostring only.

local function findCondition(conditions, conditionType)
  for _, condition in ipairs(conditions or {}) do
    if condition.type == conditionType then
      return condition
    end
  end
  return nil
end

local function isTrue(condition)
  return condition ~= nil and condition.status == "True"
end

-- "Label (Reason): message"; the window's verdict has the same fields.
local function explain(label, condition)
  local text = label .. " (" .. tostring(condition.reason) .. ")"
  if condition.message ~= nil and condition.message ~= "" then
    text = text .. ": " .. condition.message
  end
  return text
end

local metadata = obj.metadata or {}
if metadata.deletionTimestamp ~= nil then
  local message = "being deleted since " .. metadata.deletionTimestamp
  if metadata.finalizers ~= nil and #metadata.finalizers > 0 then
    message = message .. "; waiting for finalizers: " .. table.concat(metadata.finalizers, ", ")
  end
  return { status = "Progressing", message = message }
end

local status = obj.status
local generation = metadata.generation
if status == nil or (generation ~= nil and status.observedGeneration ~= generation) then
  -- A live object always has a generation; a new one starts at 1.
  local message = "waiting for the operator to observe generation " .. tostring(generation or 1)
  if status ~= nil and status.observedGeneration ~= nil then
    message = message .. " (status is of generation " .. tostring(status.observedGeneration) .. ")"
  end
  return { status = "Progressing", message = message }
end

local ready = findCondition(status.conditions, "Ready")
local stalled = findCondition(status.conditions, "Stalled")
local reconciling = findCondition(status.conditions, "Reconciling")
if ready ~= nil and ready.status == "False" then
  return { status = "Degraded", message = explain("Not in force", ready) }
end
if isTrue(stalled) then
  return { status = "Degraded", message = explain("Stalled", stalled) }
end
if isTrue(reconciling) then
  return { status = "Progressing", message = explain("Reconciling", reconciling) }
end
if not isTrue(ready) then
  return { status = "Progressing", message = "waiting for the operator to validate the plan" }
end

local window = status.window
if window == nil then
  return { status = "Healthy", message = explain("In force", ready) .. "; no action watched yet" }
end

local label = "Window after " .. window.intentName .. " " .. window.state
if window.state == "Watching" then
  local spec = obj.spec or {}
  local autoRollback = spec.autoRollback or {}
  local message = label .. " until " .. window.endsAt .. ": " .. tostring(window.rounds) .. " round(s)"
  if window.consecutiveFailures > 0 then
    message = message .. ", " .. tostring(window.consecutiveFailures) .. " failed in a row (failureLimit "
      .. tostring(autoRollback.failureLimit or 1) .. ")"
  end
  if window.consecutiveErrors > 0 then
    message = message .. ", " .. tostring(window.consecutiveErrors) .. " unmeasurable in a row (Prometheus unreachable or erroring)"
  end
  if window.consecutiveInconclusive > 0 then
    message = message .. ", " .. tostring(window.consecutiveInconclusive) .. " inconclusive in a row"
  end
  -- The last round is due at the end.
  message = message .. "; next check at " .. (window.nextCheckAt or window.endsAt)
  -- Healthy while watching, as Flux's kstatus sees it: a window of minutes must not hold up a sync
  -- or a sync wave. A failure ends it (Degraded, or the intent RolledBack); the message says it watches.
  return { status = "Healthy", message = message }
end

-- The window ended: every state but Watching has a verdict.
local verdict = window.verdict or { reason = window.state, message = "" }
local message = explain(label, verdict)
if window.state == "Passed" or window.state == "Superseded" then
  return { status = "Healthy", message = message }
end
if window.state == "Inconclusive" then
  -- No verdict (no data, no Prometheus, a missed window): a person has to judge the action.
  return { status = "Suspended", message = message .. "; the action was not judged, check the target" }
end
if window.state == "RolledBack" then
  local rollback = window.rollback
  if rollback == nil or rollback.state == "Started" then
    return { status = "Progressing", message = message .. "; undoing the action" }
  end
  message = message .. "; undo " .. rollback.state
  if rollback.message ~= nil and rollback.message ~= "" then
    message = message .. ": " .. rollback.message
  end
  -- The undo did its job: the workload is back as it was (the intent itself shows RolledBack, Degraded).
  -- A failed or refused undo leaves the workload worse and needs a person: Suspended, as for
  -- AlertOnly (Flux sees the plan Current; the alert ArfAutoRollbackFailed says it).
  if rollback.state == "Succeeded" then
    return { status = "Healthy", message = message }
  end
  return { status = "Suspended", message = message .. "; a person must act" }
end
if window.state == "AlertOnly" then
  return { status = "Suspended", message = message .. "; onFailure is alertOnly, so the action was not undone: a person must act" }
end
-- A state this script does not know (a newer operator).
return { status = "Progressing", message = message }
