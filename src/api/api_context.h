// What route handlers may use: the services, never the store or engine directly.
#pragma once

#include <string>

#include "images/image_store.h"
#include "services/backups/backup_service.h"
#include "services/customization/customization_service.h"
#include "services/event_bus.h"
#include "services/host_info.h"
#include "services/host_memory.h"
#include "services/lifecycle/vm_service.h"
#include "services/migration/incoming_migrations.h"
#include "services/migration/migration_service.h"
#include "services/monitoring/collector.h"
#include "services/network/network_service.h"
#include "services/operations.h"
#include "services/peers/peer_service.h"
#include "services/resources/overcommit_manager.h"
#include "services/snapshots/snapshot_service.h"
#include "services/templates/template_service.h"

namespace paddock::api {

struct ApiContext {
  VmService& vms;
  OperationManager& operations;
  EventBus& events;
  ImageStore& images;
  HostInfoService& host;
  NetworkService& networks;
  Collector& collector;
  MetricsStore& metrics;
  HostMemoryService& memory;
  OvercommitManager& overcommit;
  TemplateService& templates;
  CustomizationService& customizations;
  SnapshotService& snapshots;
  BackupService& backups;
  PeerService& peers;
  MigrationService& migrations;
  IncomingMigrations& incoming;
};

class Router;
void addVmRoutes(Router& router, ApiContext& ctx);
void addVmActionRoutes(Router& router, ApiContext& ctx);
void addConsoleRoutes(Router& router, ApiContext& ctx);
void addOperationRoutes(Router& router, ApiContext& ctx);
void addHostRoutes(Router& router, ApiContext& ctx);
void addApplyRoutes(Router& router, ApiContext& ctx);
void addNetworkRoutes(Router& router, ApiContext& ctx);
void addStatsRoutes(Router& router, ApiContext& ctx);
void addTemplateRoutes(Router& router, ApiContext& ctx);
void addCustomizationRoutes(Router& router, ApiContext& ctx);
void addSnapshotRoutes(Router& router, ApiContext& ctx);
void addBackupRoutes(Router& router, ApiContext& ctx);
void addPeerRoutes(Router& router, ApiContext& ctx);
void addMigrationRoutes(Router& router, ApiContext& ctx);
void addOpenApiRoute(Router& router);

}  // namespace paddock::api
