-- Argo CD health of an arf.dev ApprovalPolicy, from the conditions the operator
-- writes (operator/policy/reconciler.ts, operator/lib/kstatus.ts): Ready says
-- whether the policy is in force; Stalled=True while it is invalid.
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

-- "Label (Reason): message".
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
  return { status = "Progressing", message = "waiting for the operator to validate the policy" }
end

-- In force: say what it enforces.
local spec = obj.spec or {}
local message = explain("In force", ready) .. "; mode " .. tostring(spec.mode)
if spec.mode == "approval" then
  message = message .. ", " .. tostring(spec.requiredApprovals or 1) .. " approval(s) required"
end
return { status = "Healthy", message = message }
