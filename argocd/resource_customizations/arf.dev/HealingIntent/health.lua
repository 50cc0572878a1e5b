-- Argo CD health of an arf.dev HealingIntent, from the phase and conditions the
-- operator writes (operator/intent, operator/lib/kstatus.ts).
-- Argo CD runs scripts from argocd-cm in Lua 5.1 without the string library:
-- text is built with .. and tostring only.

-- What each phase means for a sync. Waiting for people is Suspended; the
-- terminal failures (those with Stalled=True) are Degraded.
local HEALTH_OF_PHASE = {
  Pending = "Progressing",
  Approved = "Progressing",
  Executing = "Progressing",
  AwaitingApproval = "Suspended",
  Advisory = "Healthy",
  Duplicate = "Healthy",
  Succeeded = "Healthy",
  Invalid = "Degraded",
  Refused = "Degraded",
  Rejected = "Degraded",
  Expired = "Degraded",
  Failed = "Degraded",
  RolledBack = "Degraded",
}

-- The condition that says why the intent is in its phase; Executed otherwise.
local CONDITION_OF_PHASE = {
  Invalid = "Valid",
  Duplicate = "Duplicate",
  RolledBack = "RolledBack",
}

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

-- "Label (Reason): message".
local function explain(label, condition)
  if condition == nil then
    return label .. ": the operator has not decided yet"
  end
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

local phase = status.phase
local conditions = status.conditions
local health = HEALTH_OF_PHASE[phase]
local label = phase or "No phase"

local relevant = findCondition(conditions, CONDITION_OF_PHASE[phase] or "Executed")
local policyResolved = findCondition(conditions, "PolicyResolved")
local recommended = findCondition(conditions, "Recommended")
if phase == "Refused" and policyResolved ~= nil and policyResolved.status == "False" then
  relevant = policyResolved
elseif phase == "Advisory" and recommended ~= nil and recommended.status == "False" then
  relevant = recommended
end

-- Refusals the operator retries by itself (it set a retry time): waiting, like an approval, not a failure.
local RETRYABLE_REFUSALS = {
  TooFewAvailable = true, RateLimited = true, FreezeWindow = true, AdmissionPolicyMissing = true, AdmissionPolicyAltered = true,
}
local executed = findCondition(conditions, "Executed")
if phase == "Refused" and executed ~= nil and RETRYABLE_REFUSALS[executed.reason] then
  return { status = "Suspended", message = explain(label, executed) .. "; the operator retries it" }
end

local stalled = findCondition(conditions, "Stalled")
local reconciling = findCondition(conditions, "Reconciling")
local ready = findCondition(conditions, "Ready")
if isTrue(stalled) then
  health = "Degraded"
elseif isTrue(reconciling) then
  return { status = "Progressing", message = explain(label, reconciling) }
elseif health == nil then
  -- A phase this script does not know (a newer operator): follow Ready, as kstatus does.
  relevant = ready
  health = "Progressing"
  if isTrue(ready) then
    health = "Healthy"
  end
end

local message = explain(label, relevant or stalled)
if phase == "AwaitingApproval" then
  local approvals = status.approvals or {}
  local counted = approvals.counted or {}
  if #counted > 0 then
    message = message .. "; approved by " .. table.concat(counted, ", ")
  end
  local ignored = {}
  for _, approval in ipairs(approvals.ignored or {}) do
    table.insert(ignored, approval.user .. " (" .. approval.reason .. ")")
  end
  if #ignored > 0 then
    message = message .. "; not counted: " .. table.concat(ignored, "; ")
  end
end
if (phase == "AwaitingApproval" or phase == "Advisory") and status.recommendation ~= nil then
  message = message .. "; plan: " .. status.recommendation.summary
end
return { status = health, message = message }
